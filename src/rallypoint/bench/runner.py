"""One benchmark run against a listening server: connect, load, drain, measure.

A load run connects its receivers, then its senders, and runs two phases: a warm-up,
then the measured phase. Each phase stops sending at its deadline (or message cap);
then every sender writes a fence, and the phase is over when each client has seen every
fence (or the grace period ends). Since the server keeps each sender's order, no message
of the warm-up is counted in the measurement, and the ratio counts exactly what never
came. An idle run only holds connections.

Over TLS every connection completes a mutual-TLS handshake first; the connect phase (all
connections, :data:`TLS_CONNECT_CONCURRENCY` at a time, from the first connect until the server's
protocol offer reached the last one) then gives the handshake rate.

The server's memory and CPU are read only when its pid is known; the load generator's own
CPU is always measured, to show when it, not the server, is the limit.
"""

import asyncio
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import NamedTuple

from rallypoint.bench import proc
from rallypoint.bench.errors import BenchError
from rallypoint.bench.loadgen import BenchClient, Sender, close_all, connect_many, wall_clock_ms
from rallypoint.bench.messages import fence_bytes, stamped_pli
from rallypoint.bench.results import BenchResult, ConnectPhase, Latency, ServerUsage
from rallypoint.bench.route import Route
from rallypoint.bench.scenarios import Scenario
from rallypoint.bench.tally import Tally
from rallypoint.transport.handshake import MAX_PENDING_PER_ADDRESS

CONNECT_CONCURRENCY = 256
"""Handshakes in progress at once: well under the server's listen backlog (4096)."""

TLS_CONNECT_CONCURRENCY = MAX_PENDING_PER_ADDRESS // 2
"""TLS handshakes in progress at once: every bench connection comes from one address, and the
server refuses handshakes from an address beyond its per-address limit (``address_busy``)."""

SENDER_SLACK_S = 5.0
"""Senders stop themselves at the deadline; this guards against a stuck event loop."""


@dataclass(frozen=True)
class _Phase:
    sent: int
    expected: int
    received: int
    elapsed_s: float
    samples_ns: list[int]
    settled: bool
    """Every fence arrived: the counts are final."""


async def run_scenario(scenario: Scenario, route: Route, server_pid: int | None = None) -> BenchResult:
    """Run ``scenario`` against the server ``route`` leads to (pid known: measure it too)."""
    if scenario.idle:
        return await _run_idle(scenario, route, server_pid)
    return await _run_load(scenario, route, server_pid)


class _Mark(NamedTuple):
    """One moment of a run: monotonic time, the generator's CPU time, the server's /proc reading."""

    at: float
    generator_cpu_s: float
    server: proc.ProcSample | None


def _mark(pid: int | None) -> _Mark:
    return _Mark(time.monotonic(), time.process_time(), proc.sample(pid) if pid is not None else None)


def _server_samples(*marks: _Mark) -> list[proc.ProcSample] | None:
    """The server's readings at ``marks``, or None when it is not measured."""
    samples = [mark.server for mark in marks if mark.server is not None]
    return samples if len(samples) == len(marks) else None


def _concurrency(route: Route) -> int:
    """Connections opened at once on ``route``."""
    return TLS_CONNECT_CONCURRENCY if route.tls else CONNECT_CONCURRENCY


def _connect_phase(connections: int, start: _Mark, end: _Mark) -> ConnectPhase:
    server_cpu_s = None
    if start.server is not None and end.server is not None:
        server_cpu_s = end.server.cpu_s - start.server.cpu_s
    return ConnectPhase(
        connections, end.at - start.at, end.generator_cpu_s - start.generator_cpu_s, server_cpu_s
    )


async def _run_load(scenario: Scenario, route: Route, pid: int | None) -> BenchResult:
    fmt = scenario.wire_format
    run_id = secrets.token_hex(4)  # distinct uids and callsigns, even against a server that saw earlier runs
    now_ms = wall_clock_ms()
    sender_dials = [
        (
            route.sender(i),
            partial(
                Sender,
                fmt,
                stamped_pli(f"bench-{run_id}-{i}", f"BENCH-{run_id}-{i}", now_ms, fmt),
                fence_bytes(f"bench-{run_id}-{i}-fence", now_ms, fmt),
                offered=route.offers,
            ),
        )
        for i in range(scenario.senders)
    ]
    before = _mark(pid)
    receivers = await connect_many(
        [
            (route.receiver(i), partial(BenchClient, fmt, offered=route.offers))
            for i in range(scenario.clients)
        ],
        _concurrency(route),
    )
    senders: list[Sender] = []
    try:
        senders = await connect_many(sender_dials, _concurrency(route))
        connected = _mark(pid)
        if scenario.warmup_s > 0:
            await _warm_up(scenario, receivers, senders)
        start = _mark(pid)
        measured = await _phase(scenario, receivers, senders, scenario.duration_s)
        end = _mark(pid)
        _raise_client_errors([*receivers, *senders])
        lost = sum(client.closed.done() for client in (*receivers, *senders))
    finally:
        await close_all([*receivers, *senders])
    usage = None
    samples = _server_samples(before, connected, start, end)
    if samples is not None:
        rss_before, rss_connected, cpu_start, cpu_end = samples
        usage = ServerUsage(
            rss_before.rss_kib,
            rss_connected.rss_kib,
            cpu_end.rss_kib,
            scenario.connections,
            proc.cpu_percent(cpu_start, cpu_end, measured.elapsed_s),
        )
    generator_s = end.generator_cpu_s - start.generator_cpu_s
    return BenchResult(
        scenario,
        str(route.receivers),
        measured.sent,
        measured.expected,
        measured.received,
        measured.elapsed_s,
        Latency.from_samples(measured.samples_ns),
        lost,
        _connect_phase(scenario.connections, before, connected),
        usage,
        measured.settled,
        route.tls,
        100.0 * generator_s / measured.elapsed_s if measured.elapsed_s > 0 else None,
    )


async def _warm_up(scenario: Scenario, receivers: list[BenchClient], senders: list[Sender]) -> None:
    """An unmeasured phase; every message of it must be in before measuring starts."""
    if not (await _phase(scenario, receivers, senders, scenario.warmup_s)).settled:
        raise BenchError(
            f"the warm-up's messages were not all delivered {scenario.grace_s:g} s after it ended;"
            " they would be counted as measured (raise --grace, or use --window or --rate)"
        )


async def _phase(
    scenario: Scenario, receivers: list[BenchClient], senders: list[Sender], duration_s: float
) -> _Phase:
    """Send for ``duration_s``, then wait for the deliveries; count only what this phase sent."""
    loop = asyncio.get_running_loop()
    tally = Tally(loop, len(receivers), scenario.window)
    for receiver in receivers:
        receiver.count_into(tally)
    start_ns, start = time.monotonic_ns(), loop.time()
    interval = len(senders) / scenario.rate if scenario.rate > 0 else None
    offset = interval / len(senders) if interval is not None else 0.0
    for index, sender in enumerate(senders):  # paced senders take turns rather than send at once
        sender.start(start + duration_s, scenario.max_messages, interval, start + index * offset, tally)
    try:
        counts = await asyncio.wait_for(
            asyncio.gather(*(sender.done for sender in senders)), duration_s + SENDER_SLACK_S
        )
    except TimeoutError as exc:
        raise BenchError("senders did not stop at their deadline (event loop blocked?)") from exc
    sent = sum(counts)
    tally.expect_fences(len(senders) * len(receivers))
    for sender in senders:
        sender.send_fence()
    done, _ = await asyncio.wait([tally.fenced], timeout=scenario.grace_s)
    for receiver in receivers:
        receiver.count_into(None)
    end_ns = tally.last_arrival_ns if tally.received else time.monotonic_ns()
    elapsed_s = (end_ns - start_ns) / 1e9
    return _Phase(sent, sent * len(receivers), tally.delivered, elapsed_s, tally.samples_ns, bool(done))


async def _run_idle(scenario: Scenario, route: Route, pid: int | None) -> BenchResult:
    before = _mark(pid)
    clients = await connect_many(
        [(route.receivers, partial(BenchClient, scenario.wire_format))] * scenario.clients,
        _concurrency(route),
    )
    try:
        opened = _mark(pid)
        await asyncio.sleep(scenario.warmup_s)  # let the server settle after the connection storm
        held = _mark(pid)
        await asyncio.sleep(scenario.duration_s)
        after = _mark(pid)
        _raise_client_errors(clients)
        lost = sum(client.closed.done() for client in clients)
    finally:
        await close_all(clients)
    usage = None
    samples = _server_samples(before, held, after)
    if samples is not None:
        first, settled, last = samples
        usage = ServerUsage(
            first.rss_kib,
            settled.rss_kib,
            last.rss_kib,
            scenario.connections,
            proc.cpu_percent(first, last, after.at - before.at),
            proc.cpu_percent(settled, last, after.at - held.at),
        )
    connect = _connect_phase(scenario.connections, before, opened)
    empty = Latency.from_samples([])
    return BenchResult(
        scenario, str(route.receivers), 0, 0, 0, 0.0, empty, lost, connect, usage, tls=route.tls
    )


def _raise_client_errors(clients: Sequence[BenchClient]) -> None:
    errors = [client.error for client in clients if client.error is not None]
    if errors:
        raise BenchError(f"{len(errors)} connection(s) failed; first: {errors[0]}")

"""One benchmark run against a listening server: connect, load, drain, measure.

A load run connects its receivers, then its senders, and runs two phases: a warm-up,
then the measured phase. Each phase stops sending at its deadline (or message cap);
then every sender writes a fence, and the phase is over when each client has seen every
fence (or the grace period ends). Since the server keeps each sender's order, no message
of the warm-up is counted in the measurement, and the ratio counts exactly what never
came. An idle run only holds connections.

The server's memory and CPU are read only when its pid is known.
"""

import asyncio
import math
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

from rallypoint.bench import proc
from rallypoint.bench.errors import BenchError
from rallypoint.bench.loadgen import BenchClient, Sender, close_all, connect_many, wall_clock_ms
from rallypoint.bench.messages import fence_bytes, stamped_pli
from rallypoint.bench.scenarios import Scenario
from rallypoint.bench.tally import Tally

CONNECT_CONCURRENCY = 256
"""Handshakes in progress at once: well under the server's listen backlog (4096)."""

SENDER_SLACK_S = 5.0
"""Senders stop themselves at the deadline; this guards against a stuck event loop."""


@dataclass(frozen=True)
class Latency:
    """Delivery latency from the sampled messages of the measured phase."""

    samples: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None

    @classmethod
    def from_samples(cls, samples_ns: Sequence[int]) -> "Latency":
        """Nearest-rank percentiles of ``samples_ns``."""
        ordered = sorted(samples_ns)

        def rank(percent: float) -> float | None:
            if not ordered:
                return None
            return ordered[max(0, math.ceil(percent / 100 * len(ordered)) - 1)] / 1e6

        return cls(len(ordered), rank(50), rank(95), rank(99))


@dataclass(frozen=True)
class ServerUsage:
    """The server process seen from ``/proc`` during the run."""

    rss_before_kib: int
    """Before the bench connected."""
    rss_connected_kib: int
    """With every bench connection open, before any load."""
    rss_after_kib: int
    """At the end of the measured phase, connections still open."""
    connections: int
    cpu_percent: float
    """Load run: CPU time of the measured phase over its span from first send to last delivery
    (the server has nothing to do once the last delivery is out). Idle run: the whole run."""
    idle_cpu_percent: float | None = None
    """Idle run only: while the connections were held and silent."""

    @property
    def rss_per_connection_kib(self) -> float:
        """Memory the connections added, per connection."""
        return (self.rss_connected_kib - self.rss_before_kib) / self.connections


@dataclass(frozen=True)
class BenchResult:
    """Everything one run measured."""

    scenario: Scenario
    address: str
    sent: int
    expected: int
    """Deliveries a perfect server would make: sent x clients."""
    received: int
    elapsed_s: float
    """From the first send of the measured phase to the last delivery (or the end of waiting)."""
    latency: Latency
    connections_lost: int
    """Bench connections the server closed before the end."""
    connect_s: float
    """Time to open every connection and finish its handshake."""
    server: ServerUsage | None
    settled: bool = True
    """False when the grace period ended before every fence arrived: the ratio understates."""

    @property
    def delivered_per_s(self) -> float | None:
        """Messages received by all clients together, per second."""
        return self.received / self.elapsed_s if self.elapsed_s > 0 and not self.scenario.idle else None

    @property
    def delivery_ratio(self) -> float | None:
        """Received over expected (1.0 when nothing was lost or replaced)."""
        return self.received / self.expected if self.expected else None

    def metrics(self) -> dict[str, float | None]:
        """The values targets are checked against, by name."""
        server = self.server
        return {
            "delivered_per_s": self.delivered_per_s,
            "delivery_ratio": self.delivery_ratio,
            "latency_p50_ms": self.latency.p50_ms,
            "latency_p95_ms": self.latency.p95_ms,
            "latency_p99_ms": self.latency.p99_ms,
            "rss_per_connection_kib": server.rss_per_connection_kib if server else None,
            "cpu_percent": server.cpu_percent if server else None,
            "idle_cpu_percent": server.idle_cpu_percent if server else None,
        }


@dataclass(frozen=True)
class _Phase:
    sent: int
    expected: int
    received: int
    elapsed_s: float
    samples_ns: list[int]
    settled: bool
    """Every fence arrived: the counts are final."""


async def run_scenario(
    scenario: Scenario, host: str, port: int, server_pid: int | None = None
) -> BenchResult:
    """Run ``scenario`` against the server at ``host:port`` (pid known: measure it too)."""
    if scenario.idle:
        return await _run_idle(scenario, host, port, server_pid)
    return await _run_load(scenario, host, port, server_pid)


def _sample(pid: int | None) -> proc.ProcSample | None:
    return proc.sample(pid) if pid is not None else None


async def _run_load(scenario: Scenario, host: str, port: int, pid: int | None) -> BenchResult:
    before, connect_start = _sample(pid), time.monotonic()
    fmt = scenario.wire_format
    receivers = await connect_many(
        host, port, [partial(BenchClient, fmt)] * scenario.clients, CONNECT_CONCURRENCY
    )
    senders: list[Sender] = []
    try:
        run_id = secrets.token_hex(4)  # distinct uids, even against a server that saw earlier runs
        now_ms = wall_clock_ms()
        factories = [
            partial(
                Sender,
                fmt,
                stamped_pli(f"bench-{run_id}-{i}", f"BENCH-{i}", now_ms, fmt),
                fence_bytes(f"bench-{run_id}-{i}-fence", now_ms, fmt),
            )
            for i in range(scenario.senders)
        ]
        senders = await connect_many(host, port, factories, CONNECT_CONCURRENCY)
        connected, connect_s = _sample(pid), time.monotonic() - connect_start
        if scenario.warmup_s > 0:
            await _warm_up(scenario, receivers, senders)
        start = _sample(pid)
        measured = await _phase(scenario, receivers, senders, scenario.duration_s)
        end = _sample(pid)
        _raise_client_errors([*receivers, *senders])
        lost = sum(client.closed.done() for client in (*receivers, *senders))
    finally:
        await close_all([*receivers, *senders])
    usage = None
    if before is not None and connected is not None and start is not None and end is not None:
        usage = ServerUsage(
            before.rss_kib,
            connected.rss_kib,
            end.rss_kib,
            scenario.connections,
            proc.cpu_percent(start, end, measured.elapsed_s),
        )
    return BenchResult(
        scenario,
        f"{host}:{port}",
        measured.sent,
        measured.expected,
        measured.received,
        measured.elapsed_s,
        Latency.from_samples(measured.samples_ns),
        lost,
        connect_s,
        usage,
        measured.settled,
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


async def _run_idle(scenario: Scenario, host: str, port: int, pid: int | None) -> BenchResult:
    before, started_at = _sample(pid), time.monotonic()
    clients = await connect_many(
        host, port, [partial(BenchClient, scenario.wire_format)] * scenario.clients, CONNECT_CONCURRENCY
    )
    connect_s = time.monotonic() - started_at
    try:
        await asyncio.sleep(scenario.warmup_s)  # let the server settle after the connection storm
        connected, held_at = _sample(pid), time.monotonic()
        await asyncio.sleep(scenario.duration_s)
        after, ended_at = _sample(pid), time.monotonic()
        _raise_client_errors(clients)
        lost = sum(client.closed.done() for client in clients)
    finally:
        await close_all(clients)
    usage = None
    if before is not None and connected is not None and after is not None:
        usage = ServerUsage(
            before.rss_kib,
            connected.rss_kib,
            after.rss_kib,
            scenario.connections,
            proc.cpu_percent(before, after, ended_at - started_at),
            proc.cpu_percent(connected, after, ended_at - held_at),
        )
    return BenchResult(
        scenario, f"{host}:{port}", 0, 0, 0, 0.0, Latency.from_samples([]), lost, connect_s, usage
    )


def _raise_client_errors(clients: Sequence[BenchClient]) -> None:
    errors = [client.error for client in clients if client.error is not None]
    if errors:
        raise BenchError(f"{len(errors)} connection(s) failed; first: {errors[0]}")

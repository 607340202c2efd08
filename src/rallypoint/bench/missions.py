"""``rallypoint bench missions``: mission-change fan-out latency to subscribed streaming clients.

Starts a server in its own process (plain TCP and the plain API port on free loopback
ports), connects ``--clients`` stream clients (default 100), each binding a device uid with
a position report, creates a mission and subscribes every device to it. Then it makes
``--changes`` content changes one after the other over REST (``PUT …/contents``) and, for
each, records the time from just before the request to the arrival of the ``t-x-m-c``
notification naming it on every client socket. Reports p50/p95/p99/max over all
(change, client) pairs, and how many never arrived.

Exit codes as for every bench: 0 targets met (every notification arrived, p99 at most
``--max-p99-ms``), 1 a target missed, 2 the benchmark could not run.
"""

import argparse
import asyncio
import contextlib
import json
import re
import sys
import time
from typing import Any, NamedTuple

import httpx

from rallypoint.bench.errors import BenchError
from rallypoint.bench.results import Latency
from rallypoint.bench.server import LOOPBACK, spawned_server
from rallypoint.transport.loop import run_event_loop

DEFAULT_CLIENTS = 100
DEFAULT_CHANGES = 200
DEFAULT_MAX_P99_MS = 250.0
"""Target: 99 % of notifications on every socket within this of the REST call starting."""
WAIT_PER_CHANGE_S = 5.0
"""A change not seen by every client within this is counted as missing for the others."""
START_TIMEOUT_S = 20.0
READ_SIZE = 1 << 16
WARMUP_CHANGES = 5
EVENT_END = b"</event>"
_CONTENT = re.compile(rb"<contentUid>bench-(\d+)</contentUid>")


class Options(NamedTuple):
    clients: int
    changes: int
    max_p99_ms: float
    log_level: str


def add_missions_arguments(bench: argparse.ArgumentParser) -> None:
    """The options only ``bench missions`` reads (``--clients`` and ``--json`` are shared)."""
    group = bench.add_argument_group("missions (rallypoint bench missions)")
    group.add_argument("--changes", type=int, default=DEFAULT_CHANGES, help="mission changes to time")
    group.add_argument(
        "--max-p99-ms", type=float, default=DEFAULT_MAX_P99_MS, help="p99 fan-out latency target (ms)"
    )


class Subscriber:
    """One stream client: records when each numbered change's notification arrived."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.seen: dict[int, float] = {}
        self.arrived = asyncio.Event()
        self._buffer = b""

    async def read_forever(self) -> None:
        while chunk := await self.reader.read(READ_SIZE):
            now = time.perf_counter()
            self._buffer += chunk
            complete, _, self._buffer = self._buffer.rpartition(EVENT_END)
            for match in _CONTENT.finditer(complete):
                self.seen.setdefault(int(match.group(1)), now)
                self.arrived.set()


def _pli(uid: str) -> bytes:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    stale = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
    return (
        f'<event version="2.0" uid="{uid}" type="a-f-G-U-C" how="m-g" time="{now}" start="{now}"'
        f' stale="{stale}"><point lat="0" lon="0" hae="0" ce="1" le="1"/><detail>'
        f'<contact callsign="{uid}" endpoint="*:-1:stcp"/></detail></event>'
    ).encode()


async def _wait_for_api(pid: int, port: int) -> None:
    """The port accepts connections; wait until the missions service answers on it too."""
    async with httpx.AsyncClient(base_url=f"http://{LOOPBACK}:{port}", timeout=1.0) as client:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get("/api/missions")).status_code == 200:
                    return
            await asyncio.sleep(0.05)
    raise BenchError(f"the API of server {pid} did not answer within {START_TIMEOUT_S:g} s")


async def measure(options: Options) -> dict[str, Any]:
    """Run the benchmark; the results as a JSON-able document."""
    async with spawned_server(options.log_level, api=True) as server:
        tcp_port, api_port = server.port, server.api_port
        assert api_port is not None
        await _wait_for_api(server.pid, api_port)
        subscribers = [
            Subscriber(*await asyncio.open_connection(LOOPBACK, tcp_port)) for _ in range(options.clients)
        ]
        readers = [asyncio.create_task(s.read_forever()) for s in subscribers]
        try:
            async with httpx.AsyncClient(
                base_url=f"http://{LOOPBACK}:{api_port}", timeout=WAIT_PER_CHANGE_S
            ) as api:
                await _prepare(api, subscribers)
                return await _timed_changes(api, subscribers, options)
        finally:
            for task in readers:
                task.cancel()
            for subscriber in subscribers:
                subscriber.writer.close()


async def _prepare(api: httpx.AsyncClient, subscribers: list[Subscriber]) -> None:
    for number, subscriber in enumerate(subscribers):
        subscriber.writer.write(_pli(f"BENCH-{number}"))
    created = await api.put("/Marti/api/missions/bench", params={"creatorUid": "BENCH-CP"})
    if created.status_code != 201:
        raise BenchError(f"could not create the mission: {created.status_code} {created.text}")
    for number in range(len(subscribers)):
        response = await api.put("/Marti/api/missions/bench/subscription", params={"uid": f"BENCH-{number}"})
        if response.status_code != 201:
            raise BenchError(f"could not subscribe BENCH-{number}: {response.status_code}")


async def _timed_changes(
    api: httpx.AsyncClient, subscribers: list[Subscriber], options: Options
) -> dict[str, Any]:
    samples: list[int] = []
    missing = 0
    started = time.perf_counter()
    for key in range(WARMUP_CHANGES + options.changes):
        for subscriber in subscribers:
            subscriber.arrived.clear()
        sent = time.perf_counter()
        response = await api.put(
            "/Marti/api/missions/bench/contents",
            params={"creatorUid": "BENCH-CP"},
            json={"uids": [f"bench-{key}"]},
        )
        if response.status_code != 200:
            raise BenchError(f"change {key} refused: {response.status_code} {response.text}")
        await _all_seen(subscribers, key)
        if key < WARMUP_CHANGES:
            continue
        for subscriber in subscribers:
            arrival = subscriber.seen.get(key)
            if arrival is None:
                missing += 1
            else:
                samples.append(int((arrival - sent) * 1e9))
    elapsed = time.perf_counter() - started
    latency = Latency.from_samples(samples)
    return {
        "clients": options.clients,
        "changes": options.changes,
        "notifications": len(samples),
        "missing": missing,
        "p50_ms": latency.p50_ms,
        "p95_ms": latency.p95_ms,
        "p99_ms": latency.p99_ms,
        "max_ms": max(samples) / 1e6 if samples else None,
        "changes_per_s": (options.changes + WARMUP_CHANGES) / elapsed if elapsed > 0 else None,
    }


async def _all_seen(subscribers: list[Subscriber], key: int) -> None:
    deadline = time.monotonic() + WAIT_PER_CHANGE_S
    for subscriber in subscribers:
        while key not in subscriber.seen:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(subscriber.arrived.wait(), remaining)
            subscriber.arrived.clear()


def targets_met(document: dict[str, Any], max_p99_ms: float) -> dict[str, bool]:
    p99 = document["p99_ms"]
    return {"all_delivered": document["missing"] == 0, "p99": p99 is not None and p99 <= max_p99_ms}


def _text(document: dict[str, Any], met: dict[str, bool]) -> str:
    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f} ms"

    rate = document["changes_per_s"]
    return "\n".join(
        [
            f"mission-change fan-out: {document['changes']} changes,"
            f" {document['clients']} subscribed clients",
            f"  notifications {document['notifications']}, missing {document['missing']}"
            f" ({'ok' if met['all_delivered'] else 'MISSED'})",
            f"  latency p50 {ms(document['p50_ms'])}, p95 {ms(document['p95_ms'])},"
            f" p99 {ms(document['p99_ms'])} ({'ok' if met['p99'] else 'MISSED'}),"
            f" max {ms(document['max_ms'])}",
            f"  changes/s {rate:.1f}" if rate else "  changes/s -",
        ]
    )


def run_missions_bench(args: argparse.Namespace) -> int:
    """``rallypoint bench missions`` (see the module docstring)."""
    options = Options(
        clients=args.clients or DEFAULT_CLIENTS,
        changes=args.changes,
        max_p99_ms=args.max_p99_ms,
        log_level=args.server_log_level,
    )
    if options.clients < 1 or options.changes < 1:
        print("rallypoint bench missions: --clients and --changes must be positive", file=sys.stderr)
        return 2
    if args.target:
        print("rallypoint bench missions starts its own server: drop --target", file=sys.stderr)
        return 2
    try:
        document = run_event_loop(measure(options))
    except (BenchError, OSError, httpx.HTTPError) as exc:
        print(f"rallypoint bench missions: {exc}", file=sys.stderr)
        return 2
    met = targets_met(document, options.max_p99_ms)
    print(json.dumps({**document, "targets": met}, indent=2) if args.json else _text(document, met))
    return 0 if all(met.values()) else 1

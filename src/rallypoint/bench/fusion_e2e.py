"""The ``end to end`` column of ``rallypoint bench fusion``: the scenario through real sockets.

The ``client view`` column replays the engine and the emitter on the scenario's clock,
without sockets. This one runs what an operator runs: a ``rallypoint serve`` process with a
feeds file, reading real local sources (:mod:`rallypoint.bench.fusion_sources`: readsb
``aircraft.json`` polled over HTTP, AIS NMEA and APRS-IS over TCP), teams on PLI as TAK
clients over TCP, and a watching TAK client on the same port whose received events are the
map scored (:mod:`rallypoint.bench.fusion_view`). The scenario is replayed in real time,
shifted to the wall clock. Measured besides the scores: report → client latency from the
moment the source has the report (its own latency excluded), and reports per second of the
server process's CPU time (``/proc``), the cost of the whole path (polls, decoding, the
engine, CoT out to every client).
"""

import asyncio
import contextlib
import json
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import httpx

from rallypoint.bench.fusion_sources import (
    LineSource,
    Readsb,
    ais_lines,
    aprs_line,
    pli_xml,
    sources_of,
    wall_ms,
)
from rallypoint.bench.fusion_view import Latencies, Received, RecordedView, Watcher
from rallypoint.bench.proc import sample
from rallypoint.bench.server import spawned_server
from rallypoint.fusion.evaluate import Evaluation, evaluate
from rallypoint.fusion.report import Report
from rallypoint.fusion.simulate import EPOCH_MS, Scenario

LEAD_MS = 1000
"""The replay starts this long after every source, team and the watcher are connected."""
SETTLE_MS = 1500
"""After the last report, the server gets this long to send what it still holds."""
READY_TIMEOUT_S = 20.0
IDLE_S = 3.0
"""Before the replay the server's CPU is read over this long with every source connected and
polled but silent: its fixed cost (polls of empty documents, timers), which a scenario of a
few hundred reports a second does not amortise."""


class EndToEnd(NamedTuple):
    """What one end-to-end run measured."""

    evaluation: Evaluation
    published: int
    """Reports the sources made available (what the scenario says they received)."""
    decoded: int
    """Reports the server's feeds decoded (``GET /api/feeds``), PLIs apart."""
    events: int
    """CoT events the watching client received."""
    server_cpu_s: float
    idle_cpu_per_s: float
    """Server CPU seconds per second with the sources connected and silent."""
    latency: Latencies
    poll_s: float
    wall_s: float
    """Wall-clock seconds the server CPU was read over (the replay and the settling)."""
    view_events: tuple[Received, ...] = ()
    """Everything the watching client received, in order."""


def feeds_toml(scenario: Scenario, ports: dict[str, int], urls: dict[str, str], poll_s: float) -> str:
    """The feeds file: one feed per scenario receiver, named as the receiver."""
    kinds = sources_of(scenario.reports)
    sigma: dict[str, float] = {}
    for report in scenario.reports:
        sigma[report.source] = min(sigma.get(report.source, report.sigma_m), report.sigma_m)
    lines = ["[fusion.aliases]"]
    lines += [f"{json.dumps(key)} = {json.dumps(value)}" for key, value in scenario.aliases.items()]
    for name, kind in sorted(kinds.items()):
        if kind == "cot":
            continue
        lines += ["", "[[feeds]]", f'name = "{name}"', f"sigma_m = {sigma[name]}"]
        if kind == "adsb":
            lines += ['kind = "adsb_json"', f'url = "{urls[name]}"', f"interval_s = {poll_s}"]
        else:
            feed_kind = "ais_tcp" if kind == "ais" else "aprs_is"
            lines += [f'kind = "{feed_kind}"', f"port = {ports[name]}"]
    return "\n".join(lines) + "\n"


class _Sources:
    """Every source of the scenario, started; publishes each report where its receiver serves it."""

    def __init__(self) -> None:
        self.readsbs: dict[str, Readsb] = {}
        self.lines: dict[str, LineSource] = {}
        self.teams: dict[str, asyncio.StreamWriter] = {}
        self._drains: list[asyncio.Task[None]] = []

    async def start(self, scenario: Scenario) -> None:
        for name, kind in sources_of(scenario.reports).items():
            if kind == "adsb":
                self.readsbs[name] = await Readsb().start()
            elif kind in {"ais", "aprs"}:
                self.lines[name] = await LineSource().start()

    async def connect_teams(self, scenario: Scenario, port: int) -> None:
        """One TAK connection per team identity; what the server sends them is read and dropped."""
        for report in scenario.reports:
            if report.kind == "cot" and report.identity and report.identity not in self.teams:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                self.teams[report.identity] = writer
                self._drains.append(asyncio.create_task(_drain(reader)))

    def ready(self) -> bool:
        return all(s.writers for s in self.lines.values()) and all(r.polls for r in self.readsbs.values())

    def publish(self, report: Report, shift_ms: int) -> None:
        time_ms = report.time_ms + shift_ms
        if report.kind == "adsb":
            self.readsbs[report.source].publish(report, time_ms)
        elif report.kind == "ais":
            self.lines[report.source].send(ais_lines(report, time_ms))
        elif report.kind == "aprs":
            self.lines[report.source].send(aprs_line(report))
        elif report.kind == "cot" and report.identity in self.teams:
            self.teams[report.identity].write(pli_xml(report, time_ms))

    async def stop(self) -> None:
        for writer in self.teams.values():
            writer.close()
        for task in self._drains:
            task.cancel()
        await asyncio.gather(*self._drains, return_exceptions=True)
        servers = [r.server for r in self.readsbs.values()] + [s.server for s in self.lines.values()]
        for server in servers:
            if server is not None:
                server.close()


async def _drain(reader: asyncio.StreamReader) -> None:
    with contextlib.suppress(ConnectionError):
        while await reader.read(65536):
            pass


async def _until(check: Any, what: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"end to end: {what} not ready within {READY_TIMEOUT_S:g} s")
        await asyncio.sleep(0.05)


async def _replay(reports: Sequence[Report], sources: _Sources, watcher: Watcher, shift_ms: int) -> int:
    published = 0
    for report in reports:
        if report.identity is None:
            continue  # plots without identity have no adapter to come through
        delay = report.received_ms + shift_ms - wall_ms()
        if delay > 0:
            await asyncio.sleep(delay / 1000)
        sources.publish(report, shift_ms)
        watcher.latencies.published(report, shift_ms, wall_ms())
        published += 1
    return published


async def _decoded(api_port: int) -> int:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{api_port}", timeout=10.0) as client:
        feeds = (await client.get("/api/feeds")).json()["data"]
    return sum(int(feed["reports"]) for feed in feeds)


async def run_end_to_end(
    scenario: Scenario, *, poll_s: float = 0.2, cutoff: float = 100.0, profile: Path | None = None
) -> EndToEnd:
    """Serve ``scenario`` from real sources to a real server and score what a client received.

    ``profile`` names a file for a cProfile of the server process (written when it stops).
    """
    sources = _Sources()
    await sources.start(scenario)
    try:
        with tempfile.TemporaryDirectory(prefix="rallypoint-e2e-") as temp:
            ports = {name: s.port for name, s in sources.lines.items()}
            urls = {name: r.url for name, r in sources.readsbs.items()}
            feeds = Path(temp) / "feeds.toml"
            feeds.write_text(feeds_toml(scenario, ports, urls, poll_s))
            settings = {"RALLYPOINT_FEEDS_FILE": str(feeds)}
            async with spawned_server(settings=settings, api=True, profile=profile) as server:
                watcher = await Watcher(scenario).connect(server.port)
                try:
                    await sources.connect_teams(scenario, server.port)
                    await _until(sources.ready, "the feeds' connections")
                    idle = sample(server.pid).cpu_s
                    await asyncio.sleep(IDLE_S)
                    before = sample(server.pid).cpu_s
                    idle = (before - idle) / IDLE_S
                    started = time.monotonic()
                    shift_ms = wall_ms() + LEAD_MS - EPOCH_MS
                    published = await _replay(scenario.reports, sources, watcher, shift_ms)
                    end = EPOCH_MS + round(scenario.spec.duration_s * 1000) + shift_ms
                    await asyncio.sleep(max(0, end - wall_ms()) / 1000 + SETTLE_MS / 1000)
                    cpu = sample(server.pid).cpu_s - before
                    wall_s = time.monotonic() - started
                    assert server.api_port is not None
                    decoded = await _decoded(server.api_port)
                finally:
                    await watcher.close()
    finally:
        await sources.stop()
    view = RecordedView(watcher.events, shift_ms, scenario.aliases)
    evaluation = evaluate(scenario, view, cutoff)
    events = tuple(watcher.events)
    return EndToEnd(
        evaluation, published, decoded, len(events), cpu, idle, watcher.latencies, poll_s, wall_s, events
    )


def end_to_end_document(result: EndToEnd) -> dict[str, Any]:
    """The run's numbers besides the scores, as the bench prints them."""
    rate = result.published / result.server_cpu_s if result.server_cpu_s > 0 else 0.0
    busy = result.server_cpu_s - result.idle_cpu_per_s * result.wall_s
    return {
        "reports_published": result.published,
        "reports_decoded": result.decoded,
        "events_received": result.events,
        "server_cpu_s": round(result.server_cpu_s, 2),
        "reports_per_server_cpu_s": round(rate),
        "idle_server_cpu_per_s": round(result.idle_cpu_per_s, 4),
        "reports_per_server_cpu_s_above_idle": round(result.published / busy) if busy > 0 else None,
        "poll_interval_s": result.poll_s,
        "latency": result.latency.as_json(),
    }

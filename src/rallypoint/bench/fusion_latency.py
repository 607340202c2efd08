"""Display latency of the fused output: report received → a CoT event carrying it sent.

Replays a scenario in receive order through the engine and the service's
:class:`~rallypoint.fusion.service_emit.TrackEmitter` on the scenario's own clock (no wall
clock, no sockets): each report that updates a track waits until the emitter next sends that
track. Two emit policies are compared on the same reports:

- ``on update``: what the service does now: a track's update goes out at once unless the
  track went out less than ``min_emit_interval_s`` ago, and a held update goes out the moment
  its interval has passed (the emitter says when, the service wakes up then);
- ``per tick``: the former service: a 1 s per-track limit and held updates sent only by the
  server's once-a-second tick.

The latency excludes the source's own (a receiver's delay) and the engine's compute time
(``identified reports/s`` measures that), so it is what the output policy adds.
"""

from collections.abc import Mapping
from statistics import mean
from typing import Any, NamedTuple

from rallypoint.cot.event import Event
from rallypoint.fusion.engine import FusionConfig, FusionEngine
from rallypoint.fusion.feeds.config import FeedConfig
from rallypoint.fusion.service_emit import TrackEmitter
from rallypoint.fusion.simulate import Scenario
from rallypoint.router.stats import Counters

FORMER_INTERVAL_MS = 1000
"""The former default ``min_emit_interval_s`` (1 s), with held updates flushed per tick."""
FORMER_TICK_MS = 1000
"""The server's tick: the only time the former service sent held updates."""
CLIENT_KIND = "cot"
"""Clients' own position reports: not a feed, so their tracks are not sent (each client shows
itself)."""


class Latency(NamedTuple):
    """Report-to-output delays of one emit policy, milliseconds."""

    reports: int
    mean_ms: float
    p50_ms: int
    p95_ms: int
    max_ms: int
    events_out: int

    def as_json(self) -> dict[str, Any]:
        return {
            key: round(value, 1) if isinstance(value, float) else value
            for key, value in self._asdict().items()
        }


def _feeds(scenario: Scenario) -> Mapping[str, FeedConfig]:
    names = {report.source for report in scenario.reports if report.kind != CLIENT_KIND}
    return {name: FeedConfig(name=name, kind="geojson") for name in names}


def display_latency(scenario: Scenario, *, min_interval_ms: int, per_tick: bool) -> Latency:
    """Replay ``scenario``; ``per_tick`` sends held updates only on whole seconds (the former way)."""
    pending: dict[str, list[int]] = {}
    delays: list[int] = []
    clock = [0]
    sent = [0]

    def inject(event: Event, groups: frozenset[str], identity: str | None) -> int:
        sent[0] += 1
        delays.extend(clock[0] - received for received in pending.pop(event.uid, ()))
        return 1

    engine = FusionEngine(FusionConfig(aliases=scenario.aliases))
    emitter = TrackEmitter(
        _feeds(scenario), inject, Counters(), stale_s=60.0, min_interval_ms=min_interval_ms
    )
    reports = sorted(scenario.reports, key=lambda r: r.received_ms)
    next_tick = (
        reports[0].received_ms - reports[0].received_ms % FORMER_TICK_MS + FORMER_TICK_MS if reports else 0
    )
    for report in reports:
        now = report.received_ms
        if per_tick:
            while next_tick <= now:
                clock[0] = next_tick
                emitter.flush(next_tick)
                next_tick += FORMER_TICK_MS
        else:
            due = emitter.next_due_ms()
            while due is not None and due <= now:
                clock[0] = due
                emitter.flush(due)
                due = emitter.next_due_ms()
        clock[0] = now
        for update in engine.ingest(report, now):
            if not update.deleted and report.kind != CLIENT_KIND:  # a client's PLI is relayed as is
                pending.setdefault(update.track.uid, []).append(now)
            emitter.offer(update, now)
    delays.sort()
    if not delays:
        return Latency(0, 0.0, 0, 0, 0, sent[0])
    return Latency(
        len(delays),
        mean(delays),
        delays[len(delays) // 2],
        delays[min(len(delays) - 1, len(delays) * 95 // 100)],
        delays[-1],
        sent[0],
    )


def latency_document(scenario: Scenario, min_interval_ms: int) -> dict[str, Any]:
    """Both policies on the same scenario, as the bench prints them."""
    return {
        "min_emit_interval_ms": min_interval_ms,
        "on_update": display_latency(scenario, min_interval_ms=min_interval_ms, per_tick=False).as_json(),
        "per_tick_former": display_latency(
            scenario, min_interval_ms=FORMER_INTERVAL_MS, per_tick=True
        ).as_json(),
    }

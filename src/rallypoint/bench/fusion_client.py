"""The map a TAK client shows, scored like the engine: the ``client view`` column of
``rallypoint bench fusion``.

The engine column scores the engine's tracks extrapolated to each instant. A commander sees
something else: the CoT events the service sent (through the real
:class:`~rallypoint.fusion.service_emit.TrackEmitter`, its rate limit, its one-icon rule for
aliased teams) and the clients' own position reports relayed by the router, each icon where
its latest event put it, dead-reckoned by the client from the event's time along the
``<track course speed>`` it carried (straight on, as a client does), until that event is stale
or deleted. Issue 19 measured that view through sockets and found what the engine column hid:
aliased teams shown twice (57 identity switches), callsign flips, trailing turns.

Everything runs on the scenario's clock, no sockets: reports are delivered at their receive
time, held updates go out when the emitter says they are due, the engine is ticked every
second as the server ticks it. Adapters, the router and TCP are not in it (their time is the
source's and the network's latency, not the picture's).
"""

import math
from collections.abc import Sequence
from typing import NamedTuple

from rallypoint.bench.fusion_latency import CLIENT_KIND
from rallypoint.cot.event import Event
from rallypoint.cot.types import DELETE
from rallypoint.cot.xml import detail_elements
from rallypoint.fusion.engine import FusionConfig, FusionEngine
from rallypoint.fusion.evaluate import Estimate
from rallypoint.fusion.feeds.config import DEFAULT_MIN_EMIT_INTERVAL_S, FeedConfig
from rallypoint.fusion.report import Domain, Report
from rallypoint.fusion.service_emit import TrackEmitter
from rallypoint.fusion.simulate import Scenario
from rallypoint.fusion.track import Track, TrackUpdate
from rallypoint.router.stats import Counters

CLIENT_STALE_MS = 60_000
"""Stale time of a client's relayed PLI (ATAK's is a few report intervals)."""
GROUPS = frozenset({"__ANON__"})
"""One group: every feed's tracks and every client's PLI reach the watching client."""
STALE_S = 60.0


class _Icon(NamedTuple):
    lat: float
    lon: float
    time_ms: int
    stale_ms: int
    course: float | None = None
    speed: float | None = None
    """Metres per second, from ``<track>``: the client's dead reckoning."""


def _track_hint(event: Event) -> tuple[float | None, float | None]:
    if event.detail is None:
        return None, None
    for element in detail_elements(event.detail):
        if element.tag == "track":
            attributes = dict(element.attributes)
            return float(attributes["course"]), float(attributes["speed"])
    return None, None


class ClientViewTracker:
    """A :class:`~rallypoint.fusion.evaluate.Tracker` whose estimates are a client's icons."""

    def __init__(
        self, scenario: Scenario, min_interval_ms: int | None = None, config: FusionConfig | None = None
    ) -> None:
        interval = round(DEFAULT_MIN_EMIT_INTERVAL_S * 1000) if min_interval_ms is None else min_interval_ms
        self.engine = FusionEngine(config or FusionConfig(aliases=scenario.aliases))
        feeds = {r.source for r in scenario.reports if r.kind != CLIENT_KIND}
        self.emitter = TrackEmitter(
            {name: FeedConfig(name=name, kind="geojson", groups=GROUPS) for name in feeds},
            self._receive,
            Counters(),
            stale_s=STALE_S,
            min_interval_ms=interval,
            client_shown=self._client_shown,
        )
        self.icons: dict[str, _Icon] = {}
        self._clients: dict[str, int] = {}
        """``uid:…`` → until when its relayed PLI shows it."""

    def _client_shown(self, track: Track, now_ms: int) -> frozenset[str]:
        fresh = any(self._clients.get(identity, 0) > now_ms for identity in track.identities)
        return GROUPS if fresh else frozenset()

    def _receive(self, event: Event, groups: frozenset[str], identity: str | None) -> int:
        if event.type == DELETE:
            for link in event.detail.links if event.detail is not None else ():
                self.icons.pop(link.uid, None)
        else:
            course, speed = _track_hint(event)
            self.icons[event.uid] = _Icon(
                event.point.lat, event.point.lon, event.time, event.stale, course, speed
            )
        return 1

    def _offer(self, updates: Sequence[TrackUpdate], now_ms: int) -> None:
        for update in updates:
            self.emitter.offer(update, now_ms)

    def _flush_until(self, now_ms: int) -> None:
        due = self.emitter.next_due_ms()
        while due is not None and due <= now_ms:
            self.emitter.flush(due)
            due = self.emitter.next_due_ms()

    def _relay(self, report: Report) -> None:
        """The router relays a client's PLI as it is: that client's icon, under its uid."""
        assert report.identity is not None
        shown_until = report.received_ms + CLIENT_STALE_MS
        self._clients[report.identity] = shown_until
        uid = report.identity.removeprefix("uid:")
        self.icons[uid] = _Icon(
            report.lat, report.lon, report.time_ms, shown_until, report.course, report.speed
        )

    def feed(self, reports: Sequence[Report], now_ms: int) -> None:
        """Deliver each report at its receive time, then tick as the server does."""
        for report in reports:
            at = report.received_ms
            self._flush_until(at)
            if report.kind == CLIENT_KIND and report.identity is not None:
                self._relay(report)
            self._offer(self.engine.ingest(report, at), at)
        self._flush_until(now_ms)
        self._offer(self.engine.tick(now_ms), now_ms)
        self.emitter.flush(now_ms)

    def estimates(self, scenario: Scenario, time_ms: int) -> list[Estimate]:
        """Every icon not stale at ``time_ms``, where its latest event put it; its domain is
        that of the track behind it (a team's PLI aboard a vessel is a vessel)."""
        domains: dict[str, Domain] = {}
        for track in self.engine.tracks():
            domains[track.uid] = track.domain
            for identity in track.identities:
                domains[identity.removeprefix("uid:")] = track.domain
        found = []
        for uid, icon in self.icons.items():
            if icon.stale_ms > time_ms:
                east, north, _ = scenario.frame.to_enu(icon.lat, icon.lon)
                if icon.course is not None and icon.speed is not None:
                    moved = icon.speed * (time_ms - icon.time_ms) / 1000
                    east += moved * math.sin(math.radians(icon.course))
                    north += moved * math.cos(math.radians(icon.course))
                found.append(Estimate(uid, east, north, domains.get(uid, Domain.GROUND)))
        return found

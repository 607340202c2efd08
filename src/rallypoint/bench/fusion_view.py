"""The watching TAK client of the end-to-end bench, and the map it shows, scored.

:class:`Watcher` is a plain TCP TAK client: it announces itself with one PLI (far from the
scenario) and records every CoT event it receives with its arrival time. :class:`RecordedView`
replays those events as a client shows them (each icon where its latest event put it,
dead-reckoned along its ``<track>``, until stale or deleted) for
:func:`~rallypoint.fusion.evaluate.evaluate`. An icon's domain is its CoT type's (``a-?-A``
air, ``a-?-S`` sea, else ground); a team's relayed PLI whose uid an alias joins to a vessel
is that vessel's icon (the server's one-icon rule), so it is scored as sea.

:class:`Latencies` times each report from its publication by the source to the first event
the client received for its identity whose ``<__fusion estimate>`` (the newest fix the track
holds) is at least as new: a fix superseded at the source before it was read counts until a
newer one showed; one the map already shows (another receiver's copy of one broadcast, a
re-sent one) is not counted. Each team PLI is timed from its sending to its relayed copy.
"""

import asyncio
import contextlib
import math
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from lxml import etree

from rallypoint.bench.fusion_sources import pli_xml, wall_ms
from rallypoint.cot.timefmt import parse_time
from rallypoint.cot.xml import hardened_parser
from rallypoint.fusion.evaluate import Estimate
from rallypoint.fusion.report import Domain, Report
from rallypoint.fusion.simulate import Scenario

WATCHER_UID = "E2E-WATCHER"
SAME_FIX_TOLERANCE_MS = 100
"""aircraft.json times are ``now - seen_pos`` with seen_pos in 0.1 s: a fix reads up to 50 ms off."""
_PARSER = hardened_parser(remove_blank_text=True)
_DOMAINS = {"A": Domain.AIR, "S": Domain.SEA}


class Received(NamedTuple):
    """One event as the watcher got it; times on the wall clock."""

    arrived_ms: int
    uid: str
    deleted: tuple[str, ...]
    """For a ``t-x-d-d``: the uids it removes."""
    lat: float
    lon: float
    time_ms: int
    stale_ms: int
    domain: Domain
    course: float | None
    speed: float | None
    identities: tuple[str, ...] = ()
    """A fused track's ``<__fusion identities>``; empty for a relayed PLI."""
    kind: str = ""
    """The CoT type."""


def _percentile(values: Sequence[int], share: float) -> int:
    return values[min(len(values) - 1, int(len(values) * share))] if values else 0


class Latencies:
    """Publication → client receipt, fused reports and relayed PLIs kept apart."""

    def __init__(self) -> None:
        self._waiting: dict[str, deque[tuple[int, int, str]]] = {}
        """identity → (observation ms, published ms, kind), in publication order."""
        self._shown: dict[str, int] = {}
        """identity → the newest fix of it the client has been shown (``estimate``)."""
        self._pli: dict[tuple[str, int], int] = {}
        self.fused: list[int] = []
        self.by_kind: dict[str, list[int]] = {}
        """The fused latencies per report kind (adsb, ais, aprs)."""
        self.relayed: list[int] = []

    def published(self, report: Report, shift_ms: int, now_ms: int) -> None:
        assert report.identity is not None
        if report.kind == "cot":
            self._pli[(report.identity.removeprefix("uid:"), report.time_ms + shift_ms)] = now_ms
            return
        if report.time_ms + shift_ms <= self._shown.get(report.identity, 0):
            return  # another receiver's copy, re-sent or superseded: the map already shows it
        waiting = self._waiting.setdefault(report.identity, deque())
        waiting.append((report.time_ms + shift_ms, now_ms, report.kind))

    def shown(self, element: etree._Element, arrived_ms: int) -> None:
        """An event arrived: every report of its identities no newer than its estimate is timed."""
        fusion = element.find("detail/__fusion")
        if fusion is None:
            sent = self._pli.pop((element.get("uid", ""), parse_time(element.get("time", ""))), None)
            if sent is not None:
                self.relayed.append(arrived_ms - sent)
            return
        estimate = parse_time(fusion.get("estimate", "")) + SAME_FIX_TOLERANCE_MS
        for identity in fusion.get("identities", "").split():
            self._shown[identity] = max(estimate, self._shown.get(identity, 0))
            waiting = self._waiting.get(identity)
            while waiting and waiting[0][1] <= arrived_ms and waiting[0][0] <= estimate:
                _, published, kind = waiting.popleft()
                self.fused.append(arrived_ms - published)
                self.by_kind.setdefault(kind, []).append(arrived_ms - published)

    def as_json(self) -> dict[str, Any]:
        out = {}
        rows = [("fused", self.fused), *((f"fused {k}", v) for k, v in sorted(self.by_kind.items()))]
        for name, unsorted in (*rows, ("relayed_pli", self.relayed)):
            values = sorted(unsorted)
            out[name] = {
                "reports": len(values),
                "p50_ms": _percentile(values, 0.5),
                "p99_ms": _percentile(values, 0.99),
                "max_ms": values[-1] if values else 0,
            }
        return out


def received(element: etree._Element, arrived_ms: int) -> Received:
    """The parts of an event the map needs."""
    kind = element.get("type", "")
    point = element.find("point")
    track = element.find("detail/track")
    deleted = tuple(link.get("uid", "") for link in element.iter("link")) if kind == "t-x-d-d" else ()
    parts = kind.split("-")
    course = speed = None
    fusion = element.find("detail/__fusion")
    identities = tuple(fusion.get("identities", "").split()) if fusion is not None else ()
    if track is not None:
        course, speed = float(track.get("course", "0")), float(track.get("speed", "0"))
    return Received(
        arrived_ms,
        element.get("uid", ""),
        deleted,
        float(point.get("lat", "0")) if point is not None else 0.0,
        float(point.get("lon", "0")) if point is not None else 0.0,
        parse_time(element.get("time", "")),
        parse_time(element.get("stale", "")),
        _DOMAINS.get(parts[2], Domain.GROUND) if len(parts) > 2 else Domain.GROUND,
        course,
        speed,
        identities,
        kind,
    )


class Watcher:
    """A TAK client on the server's TCP port, recording everything it receives."""

    def __init__(self, scenario: Scenario) -> None:
        self.events: list[Received] = []
        self.latencies = Latencies()
        self._task: asyncio.Task[None] | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._far = Report("self", "cot", f"uid:{WATCHER_UID}", 0, 0, -45.0, 170.0, None, None, None,
                           10.0, Domain.GROUND)  # fmt: skip

    async def connect(self, port: int) -> "Watcher":
        reader, self._writer = await asyncio.open_connection("127.0.0.1", port)
        self._writer.write(pli_xml(self._far, wall_ms()))
        self._task = asyncio.create_task(self._read(reader))
        return self

    async def _read(self, reader: asyncio.StreamReader) -> None:
        buffer = b""
        with contextlib.suppress(ConnectionError):
            while chunk := await reader.read(65536):
                now = wall_ms()
                buffer += chunk
                *whole, buffer = buffer.split(b"</event>")
                for text in whole:
                    start = text.find(b"<event")
                    if start < 0:
                        continue
                    element = etree.fromstring(text[start:] + b"</event>", _PARSER)
                    self.latencies.shown(element, now)
                    self.events.append(received(element, now))

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


class RecordedView:
    """A :class:`~rallypoint.fusion.evaluate.Tracker` replaying the watcher's events."""

    def __init__(self, events: Sequence[Received], shift_ms: int, aliases: Mapping[str, str]) -> None:
        self.events = sorted(events, key=lambda e: e.arrived_ms)
        self.shift_ms = shift_ms
        self.aboard = {target.removeprefix("uid:") for target in aliases.values()}
        self.icons: dict[str, Received] = {}
        self._next = 0

    def feed(self, reports: Sequence[Report], now_ms: int) -> None:
        """Apply every event the client had received by ``now_ms`` (scenario time)."""
        until = now_ms + self.shift_ms
        while self._next < len(self.events) and self.events[self._next].arrived_ms <= until:
            event = self.events[self._next]
            self._next += 1
            if event.deleted:
                for uid in event.deleted:
                    self.icons.pop(uid, None)
            elif event.kind.startswith("a-") and event.uid != WATCHER_UID:  # not t-x-takp-v and kin
                self.icons[event.uid] = event

    def estimates(self, scenario: Scenario, time_ms: int) -> list[Estimate]:
        """Every icon not stale at ``time_ms``, dead-reckoned along its ``<track>``."""
        at = time_ms + self.shift_ms
        found = []
        for uid, icon in self.icons.items():
            if icon.stale_ms <= at:
                continue
            east, north, _ = scenario.frame.to_enu(icon.lat, icon.lon)
            if icon.course is not None and icon.speed is not None:
                moved = icon.speed * (at - icon.time_ms) / 1000
                east += moved * math.sin(math.radians(icon.course))
                north += moved * math.cos(math.radians(icon.course))
            domain = Domain.SEA if uid in self.aboard else icon.domain
            found.append(Estimate(uid, east, north, domain))
        return found

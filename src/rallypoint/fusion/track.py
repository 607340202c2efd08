"""Tracks: the engine's working record of one object, and the frozen snapshot it hands out.

A :class:`TrackFile` is mutable and private to the engine. It keeps its estimate in a
local ENU frame anchored near the object (re-anchored when the object has moved far), a
short history of the reports it absorbed with the state after each, and the provenance
of every source. The history is what makes late reports safe: a report older than the
track's estimate is slotted into the history in time order and the later reports are
filtered again from the state just before it (reprocessing), so the result is the same as
if it had arrived on time. Reports older than the history are dropped and counted.

:class:`Track` is an immutable snapshot: callers may keep it while the engine moves on.

Every report touches a track, so its bookkeeping is kept cheap: history entries and
per-source rows are plain tuples, a history state keeps the frame it was computed in
(converted only if a late report needs it, not at every re-anchoring), and a snapshot's
:class:`Provenance` builds its ``SourceInfo`` values only when someone reads them.
"""

import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from rallypoint.fusion.geo import LocalFrame, course_from_velocity
from rallypoint.fusion.kinematics import State
from rallypoint.fusion.mixture import reframe
from rallypoint.fusion.report import Domain, Report


@dataclass(frozen=True, slots=True)
class SourceInfo:
    """What one source contributed to a track (a dataclass: a tuple field may not be named ``count``)."""

    kind: str
    identity: str | None
    last_report_ms: int
    """Observation time of the newest report from this source."""
    sigma_m: float
    """The error estimate of that report, metres (1 sigma, horizontal)."""
    count: int
    """Reports from this source absorbed by the track, duplicates included."""


class Adoption(NamedTuple):
    """A second identity that joined a track by kinematics: who, why, when, and whom it joined."""

    identity: str
    rule: str
    """``"anonymous"`` (the track had no identity), ``"secondary"`` (a TIS-B/non-ICAO address
    and an ICAO airframe, either way round) or ``"handover"`` (a new identity of the same
    namespace after the old one fell silent: an MMSI change)."""
    time_ms: int
    """Observation time of the identity's first report."""
    joined: tuple[str, ...]
    """The track's identities before it joined."""


class Track(NamedTuple):
    """A fused track at ``state.time_ms``, as the engine saw it when the snapshot was taken."""

    uid: str
    domain: Domain
    state: State
    frame: LocalFrame
    identities: tuple[str, ...]
    callsign: str | None
    sources: Mapping[str, SourceInfo]
    """A :class:`Provenance`, by source name."""
    attributes: Mapping[str, str]
    confirmed: bool
    coasting: bool
    first_ms: int
    last_received_ms: int
    adoptions: tuple[Adoption, ...] = ()
    """Identities that joined by kinematics, in order: the merges, kept in the provenance."""
    turn_rate: float = 0.0
    """Estimated turn rate, rad/s, counter-clockwise in the local frame (0: extrapolate straight)."""

    @property
    def time_ms(self) -> int:
        """Time of the estimate (the newest report absorbed)."""
        return self.state.time_ms

    def position(self, time_ms: int | None = None) -> tuple[float, float, float | None]:
        """``(lat, lon, hae)`` at ``time_ms`` (default: the estimate's time): along the turn the
        track is in (a coordinated turn at :attr:`turn_rate`, for at most ``MAX_TURN_S``, then
        straight on), or at constant velocity; height at its vertical rate."""
        s = self.state
        dt = 0.0 if time_ms is None else (time_ms - s.time_ms) / 1000.0
        east, north = _displacement(s.v_east, s.v_north, self.turn_rate, dt)
        lat, lon, _ = self.frame.to_geodetic(s.east + east, s.north + north)
        return lat, lon, None if s.up is None else s.up + dt * s.v_up

    @property
    def course_speed(self) -> tuple[float, float]:
        """Course over ground (degrees true) and speed (m/s)."""
        return course_from_velocity(self.state.v_east, self.state.v_north)

    @property
    def ce(self) -> float:
        """Horizontal error, metres: the circular 1-sigma of CoT's ``ce`` (the per-axis sigma here)."""
        return math.sqrt(self.state.p_pos)

    @property
    def le(self) -> float | None:
        """Vertical 1-sigma error, metres, or ``None`` when no height is known."""
        return math.sqrt(self.state.p_up) if self.state.up is not None else None

    def covariance(self) -> npt.NDArray[np.float64]:
        """4x4 covariance of ``(east, north, v_east, v_north)`` in the track's frame."""
        return self.state.covariance()


MAX_TURN_S = 10.0
"""A turn is extrapolated this long at most: a longer silence is no evidence it goes on."""


def _displacement(v_east: float, v_north: float, turn: float, dt: float) -> tuple[float, float]:
    """How far a track moves in ``dt`` s: along an arc at ``turn`` rad/s, then straight."""
    if turn == 0.0 or dt <= 0.0:
        return dt * v_east, dt * v_north
    arc = min(dt, MAX_TURN_S)
    angle = turn * arc
    along, across = math.sin(angle) / turn, (1.0 - math.cos(angle)) / turn
    east = along * v_east - across * v_north
    north = along * v_north + across * v_east
    if dt > arc:  # straight on along the velocity at the end of the arc
        c, s = math.cos(angle), math.sin(angle)
        east += (dt - arc) * (c * v_east - s * v_north)
        north += (dt - arc) * (s * v_east + c * v_north)
    return east, north


TURN_TIME_CONSTANT_S = 2.0
"""The turn-rate estimate follows the filtered velocity's rotation with this time constant:
quick enough for a 3°/s turn of 30 s, slow enough that velocity noise does not make one."""
MIN_TURN_SPEED = 10.0
"""Below this speed (m/s) a heading is noise: no turn is estimated."""


def learn_turn(turn: float, old: "State", new: "State", max_turn: float) -> float:
    """The turn-rate estimate after the filtered velocity went from ``old``'s to ``new``'s."""
    dt = (new.time_ms - old.time_ms) / 1000.0
    if dt <= 0.0:
        return turn
    speed2 = new.v_east * new.v_east + new.v_north * new.v_north
    if speed2 < MIN_TURN_SPEED * MIN_TURN_SPEED:
        return 0.0
    cross = old.v_east * new.v_north - old.v_north * new.v_east
    dot = old.v_east * new.v_east + old.v_north * new.v_north
    observed = math.atan2(cross, dot) / dt
    gain = min(1.0, dt / TURN_TIME_CONSTANT_S)
    turn += gain * (observed - turn)
    return max(-max_turn, min(max_turn, turn))


class TrackUpdate(NamedTuple):
    """A track changed (new estimate, new source, coasting) or was deleted."""

    track: Track
    deleted: bool


SourceRow = tuple[str, str | None, int, float, int]
"""A :class:`SourceInfo`'s fields in order: what a track keeps per source, replaced per report."""


class Provenance(Mapping[str, SourceInfo]):
    """A snapshot's sources by name: immutable rows, made :class:`SourceInfo` values when read.

    The engine snapshots a track after every report, and every report changes its source's
    count; building frozen dataclasses each time cost more than the Kalman filter itself.
    """

    __slots__ = ("_rows",)

    def __init__(self, rows: dict[str, SourceRow]) -> None:
        """``rows`` becomes this snapshot's own: nobody may change it afterwards."""
        self._rows = rows

    def __getitem__(self, name: str) -> SourceInfo:
        return SourceInfo(*self._rows[name])

    def __contains__(self, name: object) -> bool:
        return name in self._rows

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def __repr__(self) -> str:
        return f"Provenance({dict(self.items())!r})"


HistoryEntry = tuple[Report, State, LocalFrame]
"""One absorbed report, the track's state just after it, and the frame that state is in."""

Advance = Callable[[State, Report], State]
"""Filters one report into a state, in the track's current frame (the engine owns the models)."""

_UNSAFE_UID = re.compile(r"[^A-Za-z0-9_.-]+")

CALLSIGN_RANKS = {"uid": 0, "icao": 1, "mmsi": 1, "aprs": 1, "geojson": 1, "adsb": 2}
"""Whose callsign a track shows: a team's own (its TAK uid) first, then a primary identity
(an ICAO address, an MMSI, an APRS call), then a TIS-B address; a report without identity last."""
_NO_CALLSIGN = 99


def callsign_rank(identity: str | None) -> int:
    """The callsign rule: a track takes a report's callsign when the report's identity ranks
    strictly better than the one its callsign came from, or is that very identity (a flight
    number that changes). Two sources of equal rank never take turns, so the callsign does not
    flip between them (53 flips in 184 polls, each one sent at once past the rate limit)."""
    if identity is None:
        return 3
    return CALLSIGN_RANKS.get(identity.partition(":")[0], 2)


def track_uid(prefix: str, identity: str) -> str:
    """A CoT uid for the track of ``identity``: stable across restarts, safe in XML and URLs."""
    return prefix + _UNSAFE_UID.sub("-", identity.replace(":", "-"))


class TrackFile:
    """The engine's mutable record of one track."""

    __slots__ = (
        "adoptions",
        "attributes",
        "callsign",
        "callsign_from",
        "coasting",
        "confirmed",
        "domain",
        "first_ms",
        "frame",
        "history",
        "hits",
        "identities",
        "last_received_ms",
        "max_turn",
        "sources",
        "state",
        "turn_rate",
        "uid",
    )

    def __init__(self, uid: str, report: Report, frame: LocalFrame, state: State) -> None:
        self.uid = uid
        self.domain = report.domain
        self.frame = frame
        self.state = state
        self.history: list[HistoryEntry] = [(report, state, frame)]
        self.identities: tuple[str, ...] = ()
        self.adoptions: tuple[Adoption, ...] = ()
        self.turn_rate = 0.0
        self.max_turn = 0.0
        """Largest turn rate estimated, rad/s; 0 (the default) keeps extrapolation straight."""
        self.callsign = report.callsign
        self.callsign_from: tuple[int, str | None] = (
            (callsign_rank(report.identity), report.identity) if report.callsign else (_NO_CALLSIGN, None)
        )
        """Rank and identity of the report the callsign came from (see :func:`callsign_rank`)."""
        self.sources: dict[str, SourceRow] = {}
        self.attributes: Mapping[str, str] = MappingProxyType(dict(report.attributes))
        """Replaced, never changed in place, so snapshots share it."""
        self.confirmed = False
        self.coasting = False
        self.hits = 1
        self.first_ms = report.time_ms
        self.last_received_ms = report.received_ms
        self.note_source(report)

    def snapshot(self) -> Track:
        """The frozen view of this track now."""
        return _new_track(
            Track,
            (self.uid, self.domain, self.state, self.frame, self.identities, self.callsign,
             Provenance(self.sources.copy()), self.attributes, self.confirmed, self.coasting, self.first_ms,
             self.last_received_ms, self.adoptions, self.turn_rate),
        )  # fmt: skip

    def add_identity(self, identity: str) -> None:
        """Record that reports about ``identity`` belong to this track."""
        if identity not in self.identities:
            self.identities = (*self.identities, identity)

    def note_source(self, report: Report) -> None:
        """Provenance and display fields from a report, whether or not it moved the estimate."""
        sources = self.sources
        time_ms = report.time_ms
        known = sources.get(report.source)
        if known is None:
            sources[report.source] = (report.kind, report.identity, time_ms, report.sigma_m, 1)
        else:
            newest = known[2] if known[2] > time_ms else time_ms  # not max(): this runs once per report
            sources[report.source] = (report.kind, report.identity, newest, report.sigma_m, known[4] + 1)
        if report.received_ms > self.last_received_ms:  # noqa: PLR1730 -- as above
            self.last_received_ms = report.received_ms
        callsign = report.callsign
        if callsign and callsign != self.callsign:
            self._take_callsign(report, callsign)
        if report.attributes:
            self.attributes = MappingProxyType({**self.attributes, **report.attributes})
        if self.domain is Domain.GROUND and report.domain is not Domain.GROUND:
            self.domain = report.domain  # a phone aboard a boat or an aircraft reports "ground"
        self.coasting = False

    def _take_callsign(self, report: Report, callsign: str) -> None:
        """Show ``callsign`` if the rule of :func:`callsign_rank` lets this report set it."""
        rank, identity = self.callsign_from
        if report.identity is None or report.identity != identity:
            rank_of_report = callsign_rank(report.identity)
            if rank_of_report >= rank:
                return
            self.callsign_from = (rank_of_report, report.identity)
        self.callsign = callsign

    def is_duplicate(self, report: Report) -> bool:
        """The same observation already absorbed (a re-sent message, or one broadcast heard twice)."""
        time_ms, lat, lon = report.time_ms, report.lat, report.lon
        for seen, _, _ in reversed(self.history):
            if seen.time_ms < time_ms:
                return False
            if seen.time_ms == time_ms and seen.lat == lat and seen.lon == lon:
                return True
        return False

    def absorb(self, report: Report, state: State, length: int) -> None:
        """Take ``state`` (``report`` filtered in, not older than the estimate); keep ``length`` entries."""
        if state.mixture is not None:  # the IMM's own turn rate, capped as the learnt one
            self.turn_rate = max(-self.max_turn, min(self.max_turn, state.mixture.turn_rate))
        elif self.max_turn:
            self.turn_rate = learn_turn(self.turn_rate, self.state, state, self.max_turn)
        self.state = state
        history = self.history
        history.append((report, state, self.frame))
        if len(history) > length:
            del history[: len(history) - length]

    def reprocess(self, report: Report, advance: Advance, length: int) -> bool:
        """Slot a late report into the history and filter the later ones again; False if too old."""
        history = self.history
        time_ms = report.time_ms
        index = len(history)
        while index > 0 and history[index - 1][0].time_ms > time_ms:
            index -= 1
        if index == 0:
            return False
        _, state, frame = history[index - 1]
        if frame is not self.frame:
            state = _convert(state, frame, self.frame)
        replay = [report] + [entry[0] for entry in history[index:]]
        del history[index:]
        frame = self.frame
        for item in replay:
            state = advance(state, item)
            history.append((item, state, frame))
        if state.mixture is not None:
            self.turn_rate = max(-self.max_turn, min(self.max_turn, state.mixture.turn_rate))
        self.state = state
        if len(history) > length:
            del history[: len(history) - length]
        return True

    def reanchor(self) -> None:
        """Move the frame's origin to the current position, converting the estimate exactly.

        History states stay in the frame they were computed in (each entry names it):
        :meth:`reprocess` converts the one it restarts from, so re-anchoring costs one
        conversion instead of one per history entry.
        """
        old = self.frame
        lat, lon, _ = old.to_geodetic(self.state.east, self.state.north)
        new = LocalFrame(lat, lon)
        self.state = _convert(self.state, old, new)
        self.frame = new


_new_track = tuple.__new__
"""Builds a ``Track`` from a ready tuple without the NamedTuple's Python-level ``__new__``."""


def _convert(state: State, old: LocalFrame, new: LocalFrame) -> State:
    lat, lon, _ = old.to_geodetic(state.east, state.north)
    east, north, _ = new.to_enu(lat, lon)
    v_east, v_north = old.velocity_in(new, state.v_east, state.v_north)
    mixture = None if state.mixture is None else reframe(state.mixture, old, new)
    return state._replace(east=east, north=north, v_east=v_east, v_north=v_north, mixture=mixture)

"""The fusion engine: reports in, one track per real-world object out.

Built from swappable parts in the spirit of Stone Soup: a predictor per domain, an
updater, an associator, an initiator and a deleter (see ``kinematics``, ``association``,
``lifecycle``). The engine is pure: the caller passes the time in, and nothing here
sleeps, reads a clock or does I/O.

Per report: admit it (finite position, sane timestamp), find its track by identity
(through the alias table), or gate it with the other reports of its batch against every
track of its domain and assign by global nearest neighbour; then filter it in time order.
A report the track has already seen (same observation time and position, e.g. one ADS-B
broadcast heard by two receivers) only updates provenance: the two copies share one
error and fusing both would overstate the accuracy.

Identified reports are the bulk of the traffic, so their path is kept short: a route
table from raw identity straight to its track (cleared whenever aliases or tracks
change), and :class:`~rallypoint.fusion.filtering.ReportFilter`, which filters a report in
with one fused predict-and-update call on floats when the parts are the defaults.
"""

import math
from collections.abc import Iterable, Sequence

import numpy as np

from rallypoint.fusion.adoption import adoption_rule, may_adopt
from rallypoint.fusion.association import Associator, Candidates, GlobalNearestNeighbour, IdentityResolver
from rallypoint.fusion.counters import FusionCounters
from rallypoint.fusion.filtering import ReportFilter, default_predictors
from rallypoint.fusion.geo import LocalFrame
from rallypoint.fusion.kinematics import (
    KalmanUpdater,
    Predictor,
    State,
    Updater,
    initial_state,
    noise_density,
)
from rallypoint.fusion.lifecycle import Deleter, HitsInitiator, Initiator, SilenceDeleter
from rallypoint.fusion.merging import merge_tracks
from rallypoint.fusion.report import Domain, Report
from rallypoint.fusion.track import Adoption, Track, TrackFile, TrackUpdate, track_uid
from rallypoint.fusion.tuning import DomainModel, FusionConfig

__all__ = ["FusionConfig", "FusionCounters", "FusionEngine"]

_METRES_PER_DEGREE = 111_320.0


class FusionEngine:
    """Owns every track; feed it reports and ticks, read back track updates."""

    def __init__(
        self,
        config: FusionConfig | None = None,
        *,
        predictors: dict[Domain, Predictor] | None = None,
        updater: Updater | None = None,
        associator: Associator | None = None,
        initiator: Initiator | None = None,
        deleter: Deleter | None = None,
    ) -> None:
        self.config = config = config or FusionConfig()
        self.counters = FusionCounters()
        self._filtering = ReportFilter(
            config,
            predictors or default_predictors(config),
            updater or KalmanUpdater(),
        )
        self._associator = associator or GlobalNearestNeighbour()
        self._initiator = initiator or HitsInitiator(config.confirm_hits)
        self._deleter = deleter or SilenceDeleter(config)
        self._identities = IdentityResolver(config.aliases)
        self._tracks: dict[str, TrackFile] = {}
        self._by_identity: dict[str, TrackFile] = {}
        self._route: dict[str, TrackFile] = {}
        """Raw identity → its track, for identities already in the track's ``identities``."""
        self._serial = 0

    # -- public interface ------------------------------------------------------------------

    def ingest(self, report: Report, now_ms: int) -> list[TrackUpdate]:
        """Absorb one report; the updates of confirmed tracks it changed."""
        identity = report.identity
        if identity is None:
            return self.ingest_many((report,), now_ms)
        if not self._admissible(report, now_ms):
            return []
        track = self._identified(report, identity)
        if track is None or not track.confirmed:
            return []
        return [_new_update(TrackUpdate, (track.snapshot(), False))]

    def ingest_many(self, reports: Iterable[Report], now_ms: int) -> list[TrackUpdate]:
        """Absorb a batch (one poll, one scan): reports without identity are assigned jointly."""
        changed: dict[str, TrackFile] = {}
        anonymous: list[Report] = []
        for report in reports:
            if not self._admissible(report, now_ms):
                continue
            if report.identity is None:
                anonymous.append(report)
                continue
            track = self._identified(report, report.identity)
            if track is not None:
                changed[track.uid] = track
        if anonymous:
            self._associate(anonymous, changed)
        return [TrackUpdate(t.snapshot(), False) for t in changed.values() if t.confirmed]

    def tick(self, now_ms: int) -> list[TrackUpdate]:
        """Delete silent tracks and mark quiet ones coasting; the updates that caused."""
        updates: list[TrackUpdate] = []
        deleter = self._deleter
        for track in list(self._tracks.values()):
            if deleter.is_dead(track, now_ms):
                self._remove(track)
                self.counters.tracks_deleted += 1
                if track.confirmed:
                    updates.append(TrackUpdate(track.snapshot(), True))
            elif track.confirmed and not track.coasting and deleter.is_coasting(track, now_ms):
                track.coasting = True
                updates.append(TrackUpdate(track.snapshot(), False))
        return updates

    def tracks(self) -> list[Track]:
        """Snapshots of every confirmed track."""
        return [t.snapshot() for t in self._tracks.values() if t.confirmed]

    def aliases(self) -> dict[str, str]:
        """The current alias table."""
        return self._identities.aliases()

    def set_alias(self, identity: str, target_identity: str | None) -> list[TrackUpdate]:
        """Declare that ``identity`` is ``target_identity`` (``None``: no longer); merges tracks.

        Raises :class:`~rallypoint.errors.FusionError` for an alias that would make a cycle.
        """
        self._identities.set(identity, target_identity)
        self._route.clear()
        if target_identity is None:
            for track in self._tracks.values():
                if identity in track.identities and len(track.identities) > 1:
                    track.identities = tuple(i for i in track.identities if i != identity)
        return self._rekey()

    # -- association -----------------------------------------------------------------------

    def _admissible(self, report: Report, now_ms: int) -> bool:
        if not (
            -90.0 <= report.lat <= 90.0
            and -180.0 <= report.lon <= 180.0
            and 0.0 < report.sigma_m < math.inf
            and (report.hae is None or math.isfinite(report.hae))
        ):
            self.counters.invalid += 1
            return False
        if report.time_ms > now_ms + self.config.max_future_ms:
            self.counters.future += 1
            return False
        self.counters.reports += 1
        return True

    def _identified(self, report: Report, identity: str) -> TrackFile | None:
        track = self._route.get(identity)
        if track is None:
            track = self._first_of(report, identity)
            if track is None:
                return None
            self._route[identity] = track
            return track
        track.note_source(report)
        if track.is_duplicate(report):
            self.counters.duplicates += 1
        else:
            self._filter(track, report)
        return track

    def _first_of(self, report: Report, identity: str) -> TrackFile | None:
        """The track of an identity not yet routed: by canonical identity, adopted, or new."""
        canonical = self._identities.canonical(identity)
        track = self._by_identity.get(canonical)
        if track is not None:
            if identity not in track.identities:
                track.add_identity(identity)
            self._apply(track, report)
            return track
        track = self._adopt(report, identity)
        if track is None:
            track = self._start(report, canonical)
            if track is None:
                return None
        track.add_identity(identity)
        track.confirmed = track.confirmed or self._initiator.is_confirmed(track)
        self._by_identity[canonical] = track
        return track

    def _adopt(self, report: Report, identity: str) -> TrackFile | None:
        """A track this newly seen identity is a second name of, by kinematics (see :mod:`adoption`).

        A track without identity is adopted by global nearest neighbour as before; a track
        with identities only when the rules allow it and the match is unambiguous: the report
        falls in the gate of that track alone, so a formation 150 m apart or two vessels
        moored side by side are never merged by a newcomer.
        """
        tracks = [t for t in self._nearby(report) if may_adopt(t, identity, report)]
        if not tracks:
            return None
        anonymous = [t for t in tracks if not t.identities]
        if anonymous:
            pairs = self._assign([report], anonymous)
            if pairs:
                return self._join(anonymous[pairs[0][1]], report, identity, "anonymous")
        gated = [t for t in tracks if t.identities and self._assign([report], [t])]
        if len(gated) != 1:
            return None
        return self._join(gated[0], report, identity, adoption_rule(gated[0], identity, report))

    def _join(self, track: TrackFile, report: Report, identity: str, rule: str) -> TrackFile:
        track.adoptions = (*track.adoptions, Adoption(identity, rule, report.time_ms, track.identities))
        if track.identities:
            self.counters.identities_adopted += 1
        self._apply(track, report)
        return track

    def _associate(self, reports: list[Report], changed: dict[str, TrackFile]) -> None:
        seen: set[tuple[int, float, float]] = set()
        by_domain: dict[Domain, list[Report]] = {}
        for report in reports:
            key = (report.time_ms, report.lat, report.lon)
            if key in seen:
                self.counters.duplicates += 1
                continue
            seen.add(key)
            by_domain.setdefault(report.domain, []).append(report)
        for group in by_domain.values():
            tracks = self._nearby(group[0], spread=_spread_m(group))
            assigned: set[int] = set()
            for report_index, track_index in self._assign(group, tracks):
                track = tracks[track_index]
                self._apply(track, group[report_index])
                changed[track.uid] = track
                assigned.add(report_index)
            for index, report in enumerate(group):
                if index not in assigned:
                    started = self._start(report, None)
                    if started is not None:
                        changed[started.uid] = started

    def _nearby(self, report: Report, spread: float = 0.0) -> list[TrackFile]:
        """Tracks of the report's domain whose frame origin is within reach of it."""
        config = self.config
        reach_deg = (config.association_radius_m + config.reanchor_m + spread) / _METRES_PER_DEGREE
        lon_scale = max(math.cos(math.radians(report.lat)), 0.01)
        return [
            t
            for t in self._tracks.values()
            if t.domain is report.domain
            and abs(t.frame.lat - report.lat) < reach_deg
            and abs(t.frame.lon - report.lon) * lon_scale < reach_deg
        ]

    def _assign(self, reports: Sequence[Report], tracks: Sequence[TrackFile]) -> list[tuple[int, int]]:
        if not tracks:
            return []
        frame = LocalFrame(reports[0].lat, reports[0].lon)
        models = self.config.models
        candidates = Candidates(
            frame,
            [
                (t.state, t.frame, _density(models[t.domain], t.state), models[t.domain].max_speed)
                for t in tracks
            ],
        )
        positions = np.array([frame.to_enu(r.lat, r.lon)[:2] for r in reports], dtype=np.float64)
        distances = candidates.distances(
            positions[:, 0],
            positions[:, 1],
            np.array([r.sigma_m * r.sigma_m for r in reports], dtype=np.float64),
            np.array([r.time_ms for r in reports], dtype=np.float64),
            self.config.gate,
        )
        return self._associator.associate(distances)

    # -- filtering -------------------------------------------------------------------------

    def _apply(self, track: TrackFile, report: Report) -> None:
        track.note_source(report)
        if track.is_duplicate(report):
            self.counters.duplicates += 1
            return
        self._filter(track, report)

    def _filter(self, track: TrackFile, report: Report) -> None:
        state = track.state
        config = self.config
        length = config.history_length
        if report.time_ms >= state.time_ms:
            track.absorb(report, self._filtering.advance(state, report, track.frame, track.domain), length)
        elif state.time_ms - report.time_ms <= config.max_lag_ms and track.reprocess(
            report, lambda s, r: self._filtering.advance(s, r, track.frame, track.domain), length
        ):
            self.counters.late_reprocessed += 1
        else:
            self.counters.late_dropped += 1
            return
        track.hits += 1
        state = track.state
        limit = config.reanchor_m
        if abs(state.east) > limit or abs(state.north) > limit:
            track.reanchor()
        if not track.confirmed:
            track.confirmed = self._initiator.is_confirmed(track)

    # -- track lifecycle -------------------------------------------------------------------

    def _start(self, report: Report, identity: str | None) -> TrackFile | None:
        if len(self._tracks) >= self.config.max_tracks:
            self.counters.over_capacity += 1
            return None
        frame = LocalFrame(report.lat, report.lon)
        model = self.config.models[report.domain]
        state = initial_state(
            self._filtering.measure(report, frame),
            model.initial_speed_sigma * model.initial_speed_sigma,
            model.initial_climb_sigma * model.initial_climb_sigma,
        )
        prefix = self.config.uid_prefix
        if identity is None:
            self._serial += 1
            uid = f"{prefix}anon-{self._serial}"
        else:
            uid = track_uid(prefix, identity)
        base, suffix = uid, 1
        while uid in self._tracks:
            suffix += 1
            uid = f"{base}-{suffix}"
        track = TrackFile(uid, report, frame, state)
        track.max_turn = math.radians(model.max_turn_rate_dps)
        track.confirmed = self._initiator.is_confirmed(track)
        self._tracks[uid] = track
        self.counters.tracks_created += 1
        return track

    def _remove(self, track: TrackFile) -> None:
        del self._tracks[track.uid]
        self._route.clear()
        for identity in track.identities:
            canonical = self._identities.canonical(identity)
            if self._by_identity.get(canonical) is track:
                del self._by_identity[canonical]

    def _rekey(self) -> list[TrackUpdate]:
        """Re-index tracks by canonical identity after an alias change, merging what now coincides."""
        updates: list[TrackUpdate] = []
        for _ in range(len(self._tracks) + 1):
            index: dict[str, TrackFile] = {}
            clash: tuple[TrackFile, TrackFile, str] | None = None
            for track in self._tracks.values():
                for identity in track.identities:
                    canonical = self._identities.canonical(identity)
                    holder = index.setdefault(canonical, track)
                    if holder is not track:
                        clash = (holder, track, canonical)
                        break
                if clash:
                    break
            if clash is None:
                self._by_identity = index
                self._route.clear()
                return updates
            first, second, canonical = clash
            survivor, absorbed = (second, first) if canonical in second.identities else (first, second)
            updates.extend(self._merge(survivor, absorbed))
        raise AssertionError("unreachable: every pass merges away one track")

    def _merge(self, survivor: TrackFile, absorbed: TrackFile) -> list[TrackUpdate]:
        """Track-to-track fusion (see :func:`~rallypoint.fusion.merging.merge_tracks`)."""
        merge_tracks(survivor, absorbed, self._filter)
        del self._tracks[absorbed.uid]
        self.counters.tracks_merged += 1
        gone = [TrackUpdate(absorbed.snapshot(), True)] if absorbed.confirmed else []
        return [*gone, TrackUpdate(survivor.snapshot(), False)]


_new_update = tuple.__new__
"""Builds a ``TrackUpdate`` without the NamedTuple's Python-level ``__new__``."""


def _density(model: DomainModel, state: State) -> float:
    """The process-noise density the track's predictor uses at its velocity (see ``ConstantVelocity``)."""
    return noise_density(model.q, model.q_turn, state.v_east, state.v_north)


def _spread_m(reports: Sequence[Report]) -> float:
    """How far apart a batch's reports lie (a bound, in metres), so ``_nearby`` reaches them all."""
    lats = [r.lat for r in reports]
    lons = [r.lon for r in reports]
    return (max(lats) - min(lats) + max(lons) - min(lons)) * _METRES_PER_DEGREE

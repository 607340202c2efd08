"""Run a tracker over a simulated scenario and score it against the truth.

The replay is causal: at each scoring instant (every second) the tracker has been given
exactly the reports *received* by then, in arrival order, and its tracks are extrapolated
to that instant. A tracker that is right but late is scored as late. Only the time spent
inside the tracker counts towards reports per second.
"""

import time
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import NamedTuple, Protocol

import numpy as np

from rallypoint.fusion.engine import FusionConfig, FusionEngine
from rallypoint.fusion.metrics import Scorer
from rallypoint.fusion.report import Domain, Report
from rallypoint.fusion.simulate import EPOCH_MS, Scenario

SCORE_EVERY_MS = 1000
WARMUP_MS = 10_000
"""Instants before this are not scored: every tracker needs a few reports to start."""


class Estimate(NamedTuple):
    """A track's position at a scoring instant, metres east and north in the scenario's frame."""

    track_id: str
    east: float
    north: float
    domain: Domain = Domain.AIR
    """The tracker's domain for it (scored against the objects of that domain)."""


class Tracker(Protocol):
    """What the evaluation drives: reports in (in arrival order), positions out."""

    def feed(self, reports: Sequence[Report], now_ms: int) -> None: ...

    def estimates(self, scenario: Scenario, time_ms: int) -> list[Estimate]: ...


class EngineTracker:
    """Our engine, fed one report at a time as the server feeds it, ticked every instant."""

    def __init__(self, scenario: Scenario, config: FusionConfig | None = None) -> None:
        self.engine = FusionEngine(config or FusionConfig(aliases=scenario.aliases))

    def feed(self, reports: Sequence[Report], now_ms: int) -> None:
        """Ingest the reports received since the last instant, then tick."""
        engine = self.engine
        for report in reports:
            engine.ingest(report, report.received_ms)
        engine.tick(now_ms)

    def estimates(self, scenario: Scenario, time_ms: int) -> list[Estimate]:
        """Every confirmed track, extrapolated to ``time_ms``."""
        found = []
        for track in self.engine.tracks():
            lat, lon, _ = track.position(time_ms)
            east, north, _ = scenario.frame.to_enu(lat, lon)
            found.append(Estimate(track.uid, east, north, track.domain))
        return found


class Score(NamedTuple):
    """The scores of one tracker on the objects of one domain."""

    mean_ospa: float
    mean_gospa: float
    id_switches: int
    duplicate_tracks: int
    false_tracks: int
    missed: int
    """Object-instants without a track within the cutoff."""
    breaks: int


class Evaluation(NamedTuple):
    """The scores of one tracker on one scenario."""

    mean_ospa: float
    mean_gospa: float
    id_switches: int
    duplicate_tracks: int
    false_tracks: int
    reports: int
    tracker_seconds: float
    missed: int = 0
    breaks: int = 0
    by_domain: Mapping[Domain, Score] = MappingProxyType({})

    @property
    def reports_per_second(self) -> float:
        """Reports processed per second of tracker time."""
        return self.reports / self.tracker_seconds if self.tracker_seconds > 0 else float("inf")


def evaluate(scenario: Scenario, tracker: Tracker, cutoff: float = 100.0) -> Evaluation:
    """Replay ``scenario`` through ``tracker`` and score it every second after the warm-up."""
    scorer = Scorer(cutoff)
    domains = {d: Scorer(cutoff) for d in Domain if any(o.domain is d for o in scenario.objects)}
    rows = {d: [i for i, o in enumerate(scenario.objects) if o.domain is d] for d in domains}
    reports = scenario.reports
    position, spent = 0, 0.0
    for time_ms, truth in scenario.truth:
        if (time_ms - EPOCH_MS) % SCORE_EVERY_MS:
            continue
        end = position
        while end < len(reports) and reports[end].received_ms <= time_ms:
            end += 1
        started = time.perf_counter()
        tracker.feed(reports[position:end], time_ms)
        spent += time.perf_counter() - started
        position = end
        if time_ms - EPOCH_MS < WARMUP_MS:
            continue
        found = tracker.estimates(scenario, time_ms)
        points = np.array([(e.east, e.north) for e in found], dtype=np.float64).reshape(-1, 2)
        truth_points = np.array(truth, dtype=np.float64)
        scorer.add(truth_points, [e.track_id for e in found], points)
        for domain, domain_scorer in domains.items():
            mine = [index for index, e in enumerate(found) if e.domain is domain]
            domain_scorer.add(truth_points[rows[domain]], [found[i].track_id for i in mine], points[mine])
    return Evaluation(
        scorer.mean_ospa,
        scorer.mean_gospa,
        scorer.id_switches,
        len(scorer.duplicate_ids),
        len(scorer.false_ids),
        position,
        spent,
        scorer.missed,
        scorer.breaks,
        MappingProxyType({domain: _score(s) for domain, s in domains.items()}),
    )


def _score(scorer: Scorer) -> Score:
    return Score(
        scorer.mean_ospa,
        scorer.mean_gospa,
        scorer.id_switches,
        len(scorer.duplicate_ids),
        len(scorer.false_ids),
        scorer.missed,
        scorer.breaks,
    )

"""The bench's reference tracker: Stone Soup configured as well as it can be for this picture.

The plain baseline (:mod:`rallypoint.bench.fusion_baseline`) sees positions only and makes a
track per receiver copy; beating it says little. This one is what an engineer would build
from Stone Soup's parts for the same feeds, the way the issue's "properly configured" column
was built:

- **identities**: one Kalman track per identity, resolved through the scenario's aliases;
  reports without identity go to Stone Soup's GNN tracker as before;
- **per-domain models**: a constant-velocity transition per domain with the issue's tuned
  process noise (air 10, sea 0.03, ground 3 m²/s³), and deletion after 15/60/150 s of silence;
- **velocity**: course and speed, when reported, are measured along with the position
  (turned from true north at the report into the scenario frame's axes);
- **de-duplication**: a report with the identity, time and position of one already used is
  skipped (one ADS-B broadcast heard by two receivers), and so is one older than its
  track's state: Stone Soup's Kalman filter cannot go back in time.

Stone Soup is optional and imported only here, through ``importlib``.
"""

import math
from collections.abc import Mapping, Sequence
from datetime import timedelta
from types import ModuleType
from typing import Any

from rallypoint.bench.fusion_baseline import StoneSoupTracker, diagonal, import_stonesoup, timestamp_of
from rallypoint.fusion.evaluate import Estimate
from rallypoint.fusion.geo import LocalFrame
from rallypoint.fusion.report import Domain, Report
from rallypoint.fusion.simulate import Scenario
from rallypoint.fusion.tuning import DEFAULT_VELOCITY_SIGMA

TUNED_Q = {Domain.AIR: 10.0, Domain.SEA: 0.03, Domain.GROUND: 3.0}
"""Process noise per domain, m²/s³: the issue's tuned Stone Soup."""
DELETE_AFTER_S = {Domain.AIR: 15.0, Domain.SEA: 60.0, Domain.GROUND: 150.0}
"""Silence before a track is deleted, per domain: the issue's tuned Stone Soup."""
INITIAL_SPEED_SIGMA = {Domain.AIR: 150.0, Domain.SEA: 10.0, Domain.GROUND: 10.0}
"""Velocity sigma of a track started from a report without course and speed, m/s."""


def _modules() -> dict[str, ModuleType]:
    names = {
        "array": "stonesoup.types.array",
        "detection": "stonesoup.types.detection",
        "state": "stonesoup.types.state",
        "track": "stonesoup.types.track",
        "hypothesis": "stonesoup.types.hypothesis",
        "transition": "stonesoup.models.transition.linear",
        "measurement": "stonesoup.models.measurement.linear",
        "predictor": "stonesoup.predictor.kalman",
        "updater": "stonesoup.updater.kalman",
    }
    return import_stonesoup(names)


def _canonical(identity: str, aliases: Mapping[str, str]) -> str:
    for _ in range(len(aliases) + 1):
        target = aliases.get(identity)
        if target is None:
            return identity
        identity = target
    return identity


class ConfiguredStoneSoupTracker:
    """Stone Soup with identities, per-domain models and de-duplication (see the module)."""

    def __init__(self, scenario: Scenario) -> None:
        m = self._m = _modules()
        self._frame = scenario.frame
        self._aliases = scenario.aliases
        cv = m["transition"].ConstantVelocity
        self._predictors = {
            domain: m["predictor"].KalmanPredictor(
                m["transition"].CombinedLinearGaussianTransitionModel([cv(q), cv(q)])
            )
            for domain, q in TUNED_Q.items()
        }
        self._updater = m["updater"].KalmanUpdater(None)
        self._tracks: dict[str, Any] = {}
        self._domains: dict[str, Domain] = {}
        self._seen: set[tuple[str, int, float, float]] = set()
        self._anonymous = StoneSoupTracker(scenario, min_points=3)  # as our engine: 3 plots to confirm
        self._models: dict[tuple[float, float | None], Any] = {}

    def _model(self, sigma: float, velocity_sigma: float | None) -> Any:
        key = (sigma, velocity_sigma)
        model = self._models.get(key)
        if model is None:
            linear, array = self._m["measurement"].LinearGaussian, self._m["array"]
            if velocity_sigma is None:
                model = linear(
                    ndim_state=4, mapping=(0, 2), noise_covar=array.CovarianceMatrix(diagonal([sigma**2] * 2))
                )
            else:
                noise = diagonal([sigma**2, velocity_sigma**2, sigma**2, velocity_sigma**2])
                model = linear(ndim_state=4, mapping=(0, 1, 2, 3), noise_covar=array.CovarianceMatrix(noise))
            self._models[key] = model
        return model

    def feed(self, reports: Sequence[Report], now_ms: int) -> None:
        """Identified reports filtered into their identity's track; the rest to the GNN tracker."""
        anonymous = [r for r in reports if r.identity is None]
        for report in reports:
            if report.identity is not None:
                self._identified(report, _canonical(report.identity, self._aliases))
        self._anonymous.feed(anonymous, now_ms)
        at = timestamp_of(now_ms)
        for identity in [i for i, t in self._tracks.items() if at - t.state.timestamp > self._silence(i)]:
            del self._tracks[identity]

    def _silence(self, identity: str) -> timedelta:
        return timedelta(seconds=DELETE_AFTER_S[self._domains[identity]])

    def _identified(self, report: Report, identity: str) -> None:
        key = (identity, report.time_ms, report.lat, report.lon)
        if key in self._seen:
            return
        self._seen.add(key)
        m = self._m
        east, north, _ = self._frame.to_enu(report.lat, report.lon)
        velocity = None
        if report.course is not None and report.speed is not None:
            heading = math.radians(report.course)
            velocity = LocalFrame(report.lat, report.lon).velocity_in(  # local north to the frame's
                self._frame, report.speed * math.sin(heading), report.speed * math.cos(heading)
            )
        domain = self._domains.get(identity, report.domain)
        if domain is Domain.GROUND and report.domain is not Domain.GROUND:
            domain = report.domain  # a phone aboard a boat reports "ground"
        self._domains[identity] = domain
        v_sigma = DEFAULT_VELOCITY_SIGMA.get(report.kind, 2.0) if velocity is not None else None
        model = self._model(report.sigma_m, v_sigma)
        vector = [east, velocity[0], north, velocity[1]] if velocity is not None else [east, north]
        timestamp = timestamp_of(report.time_ms)
        detection = m["detection"].Detection(
            m["array"].StateVector(vector), timestamp=timestamp, measurement_model=model
        )
        track = self._tracks.get(identity)
        if track is None:
            speed_var = INITIAL_SPEED_SIGMA[domain] ** 2
            v = velocity or (0.0, 0.0)
            v_var = v_sigma**2 if v_sigma is not None else speed_var
            prior = m["state"].GaussianState(
                m["array"].StateVector([east, v[0], north, v[1]]),
                m["array"].CovarianceMatrix(diagonal([report.sigma_m**2, v_var, report.sigma_m**2, v_var])),
                timestamp=timestamp,
            )
            self._tracks[identity] = m["track"].Track([prior], id=identity)
            return
        if timestamp < track.state.timestamp:
            return  # out of order: a Kalman filter cannot go back
        prediction = self._predictors[domain].predict(track.state, timestamp=timestamp)
        hypothesis = m["hypothesis"].SingleHypothesis(prediction, detection)
        track.append(self._updater.update(hypothesis))

    def estimates(self, scenario: Scenario, time_ms: int) -> list[Estimate]:
        """Every identity's track and every GNN track, extrapolated to ``time_ms``."""
        at = timestamp_of(time_ms)
        found = self._anonymous.estimates(scenario, time_ms)
        for identity, track in self._tracks.items():
            x, vx, y, vy = (float(v) for v in track.state.state_vector.ravel())
            dt = (at - track.state.timestamp).total_seconds()
            found.append(Estimate(identity, x + vx * dt, y + vy * dt, self._domains[identity]))
        return found

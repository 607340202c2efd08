"""The comparison tracker for ``rallypoint bench fusion``: a plain Stone Soup GNN tracker.

Stone Soup (dstl) is the reference toolkit our engine's structure follows. The baseline
is its textbook multi-target tracker: one nearly-constant-velocity Kalman filter for every
object, Mahalanobis gating, global nearest neighbour by 2-D assignment, tracks started
after two associated plots and deleted after a minute without one. It sees the same
reports in the same order, positions only, without identities: that is what a tracker
without identity-first association has to work with.

Stone Soup is optional (the ``bench`` extra) and imported only here, through
``importlib`` so that neither the server nor type checking needs it installed.
"""

import importlib
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

from rallypoint.bench.errors import BenchError
from rallypoint.fusion.evaluate import Estimate
from rallypoint.fusion.report import Report
from rallypoint.fusion.simulate import Scenario

INSTALL_HINT = "pip install 'rallypoint[bench]'  (or: pip install stonesoup)"

BASELINE_Q = 1.0
"""One process noise for every object (m²/s³): a plain tracker has no per-domain models."""


class BaselineUnavailable(BenchError):
    """Stone Soup is not installed."""


def _modules() -> dict[str, ModuleType]:
    names = {
        "types": "stonesoup.types",
        "array": "stonesoup.types.array",
        "detection": "stonesoup.types.detection",
        "state": "stonesoup.types.state",
        "transition": "stonesoup.models.transition.linear",
        "measurement": "stonesoup.models.measurement.linear",
        "predictor": "stonesoup.predictor.kalman",
        "updater": "stonesoup.updater.kalman",
        "hypothesiser": "stonesoup.hypothesiser.distance",
        "measures": "stonesoup.measures",
        "dataassociator": "stonesoup.dataassociator.neighbour",
        "deleter": "stonesoup.deleter.time",
        "initiator": "stonesoup.initiator.simple",
        "tracker": "stonesoup.tracker.simple",
    }
    return import_stonesoup(names)


def import_stonesoup(names: Mapping[str, str]) -> dict[str, ModuleType]:
    """The Stone Soup modules ``names`` maps keys to (it is optional: BaselineUnavailable if absent)."""
    try:
        return {key: importlib.import_module(name) for key, name in names.items()}
    except ImportError as exc:
        raise BaselineUnavailable(f"Stone Soup is not installed: {INSTALL_HINT}") from exc


def timestamp_of(time_ms: int) -> datetime:
    return datetime.fromtimestamp(time_ms / 1000.0, tz=UTC).replace(tzinfo=None)


class StoneSoupTracker:
    """Stone Soup's ``MultiTargetTracker`` with GNN, driven scan by scan."""

    def __init__(self, scenario: Scenario, gate: float = 3.0, min_points: int = 2) -> None:
        m = _modules()
        self._m = m
        self._frame = scenario.frame
        cv = m["transition"].ConstantVelocity
        transition = m["transition"].CombinedLinearGaussianTransitionModel([cv(BASELINE_Q), cv(BASELINE_Q)])
        self._measurement_model = self._position_model(10.0)
        predictor = m["predictor"].KalmanPredictor(transition)
        updater = m["updater"].KalmanUpdater(self._measurement_model)
        hypothesiser = m["hypothesiser"].DistanceHypothesiser(
            predictor, updater, measure=m["measures"].Mahalanobis(), missed_distance=gate
        )
        associator = m["dataassociator"].GNNWith2DAssignment(hypothesiser)
        deleter = m["deleter"].UpdateTimeDeleter(timedelta(seconds=60))
        prior = m["state"].GaussianState(
            m["array"].StateVector([0.0, 0.0, 0.0, 0.0]),
            m["array"].CovarianceMatrix(diagonal([100.0**2, 150.0**2, 100.0**2, 150.0**2])),
        )
        initiator = m["initiator"].MultiMeasurementInitiator(
            prior, deleter, associator, updater, self._measurement_model, min_points=min_points
        )
        self._tracker = m["tracker"].MultiTargetTracker(
            initiator=initiator, deleter=deleter, detector=None, data_associator=associator, updater=updater
        )
        self._models: dict[float, Any] = {}

    def _position_model(self, sigma: float) -> Any:
        m = self._m
        return m["measurement"].LinearGaussian(
            ndim_state=4, mapping=(0, 2), noise_covar=m["array"].CovarianceMatrix(diagonal([sigma**2] * 2))
        )

    def feed(self, reports: Sequence[Report], now_ms: int) -> None:
        """One scan: every report received since the last instant, as a detection at its own time."""
        detections = set()
        detection_type = self._m["detection"].Detection
        for report in reports:
            model = self._models.get(report.sigma_m)
            if model is None:
                model = self._models[report.sigma_m] = self._position_model(report.sigma_m)
            east, north, _ = self._frame.to_enu(report.lat, report.lon)
            vector = self._m["array"].StateVector([east, north])
            detections.add(
                detection_type(vector, timestamp=timestamp_of(report.time_ms), measurement_model=model)
            )
        self._tracker.update_tracker(timestamp_of(now_ms), detections)

    def estimates(self, scenario: Scenario, time_ms: int) -> list[Estimate]:
        """Every track, extrapolated at constant velocity to ``time_ms``."""
        found = []
        at = timestamp_of(time_ms)
        for track in self._tracker.tracks:
            state = track.state
            x, vx, y, vy = (float(v) for v in state.state_vector.ravel())
            dt = (at - state.timestamp).total_seconds()
            if math.isfinite(x) and math.isfinite(y):
                found.append(Estimate(str(track.id), x + vx * dt, y + vy * dt))
        return found


def diagonal(values: list[float]) -> list[list[float]]:
    return [[v if i == j else 0.0 for j in range(len(values))] for i, v in enumerate(values)]

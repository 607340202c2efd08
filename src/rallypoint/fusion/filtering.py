"""Reports into states: the noise model per feed kind, the motion model per domain, the fast paths.

The engine filters every report through :class:`ReportFilter`. A domain's predictor is
either a plain predictor (its ``predict``, then the shared updater) or a model that
predicts and updates in one call on plain floats — the default constant-velocity model
with the default updater, or the :class:`~rallypoint.fusion.imm.InteractingMultipleModel`,
which keeps one estimate per mode and so updates them itself. :func:`default_predictors`
builds each domain's model from the configuration (``DomainModel.motion``).
"""

import math
from collections.abc import Callable, Mapping
from math import cos, sin

from rallypoint.fusion.geo import LocalFrame, velocity_from_course
from rallypoint.fusion.imm import InteractingMultipleModel
from rallypoint.fusion.kinematics import (
    ConstantVelocity,
    KalmanUpdater,
    Measurement,
    Predictor,
    State,
    Updater,
)
from rallypoint.fusion.report import Domain, Report
from rallypoint.fusion.tuning import DomainModel, FusionConfig, Motion


def default_predictors(config: FusionConfig) -> dict[Domain, Predictor]:
    """Each domain's motion model as its ``DomainModel`` describes it."""
    return {domain: motion_model(model) for domain, model in config.models.items()}


def motion_model(model: DomainModel) -> Predictor:
    """The constant-velocity model, or the IMM of straight flight and turns (``Motion.IMM``)."""
    if model.motion is Motion.IMM:
        return InteractingMultipleModel(
            q_straight=model.imm_straight_q,
            q_turn=model.imm_turn_q,
            q_up=model.q_up,
            turn_rate=math.radians(model.imm_turn_dps),
            straight_s=model.imm_straight_s,
            turn_s=model.imm_turn_s,
        )
    return ConstantVelocity(model.q, model.q_up, model.q_turn)


Step = Callable[
    [
        State,
        int,
        float,
        float,
        float,
        tuple[float, float] | None,
        float,
        float | None,
        float,
        float | None,
        float,
    ],
    State,
]
"""A fused predict-and-update: state, time, east, north, r_pos, velocity, r_vel, height, r_up,
vertical rate, r_climb."""

_RADIANS = math.pi / 180.0
"""What ``math.radians`` multiplies by (the same double: the same results)."""

_MAX_NOISE_KINDS = 256
"""Feed kinds whose noise is cached (kinds come from code, so this is never reached)."""


class ReportFilter:
    """Filters reports into states: the noise model per feed kind, a predictor per domain, the updater.

    When the predictor of a domain is exactly :class:`ConstantVelocity` and the updater
    :class:`KalmanUpdater`, a report goes through :meth:`ConstantVelocity.predict_update`
    straight from its fields, and so through the IMM's; other parts get the generic
    predict, then update.
    """

    __slots__ = ("_config", "_noise", "_predictors", "_r_climb", "_steps", "_updater")

    def __init__(
        self, config: FusionConfig, predictors: Mapping[Domain, Predictor], updater: Updater
    ) -> None:
        self._config = config
        self._predictors = predictors
        self._updater = updater
        self._noise: dict[str, tuple[float, float]] = {}
        """Feed kind → (velocity variance, height variance)."""
        self._r_climb = config.climb_sigma * config.climb_sigma
        self._steps = {domain: _fused_step(predictor, updater) for domain, predictor in predictors.items()}

    def advance(self, state: State, report: Report, frame: LocalFrame, domain: Domain) -> State:
        """``state`` with ``report`` filtered in (predicted to the report's time first)."""
        step = self._steps[domain]
        if step is None:
            predicted = self._predictors[domain].predict(state, report.time_ms)
            return self._updater.update(predicted, self.measure(report, frame))
        east, north, _ = frame.to_enu(report.lat, report.lon)
        r_vel, r_up = self._noise.get(report.kind) or self._noise_of(report.kind)
        course, speed = report.course, report.speed
        velocity = None
        if course is not None and speed is not None:
            heading = course * _RADIANS  # velocity_from_course, inlined: it runs once per report
            velocity = (speed * sin(heading), speed * cos(heading))
        sigma = report.sigma_m
        return step(
            state, report.time_ms, east, north, sigma * sigma, velocity, r_vel, report.hae, r_up,
            report.climb, self._r_climb,
        )  # fmt: skip

    def measure(self, report: Report, frame: LocalFrame) -> Measurement:
        """The report in ``frame``, with its feed kind's noise."""
        east, north, _ = frame.to_enu(report.lat, report.lon)
        velocity = None
        if report.course is not None and report.speed is not None:
            velocity = velocity_from_course(report.course, report.speed)
        r_vel, r_up = self._noise.get(report.kind) or self._noise_of(report.kind)
        return Measurement(
            report.time_ms, east, north, report.sigma_m * report.sigma_m, velocity, r_vel, report.hae, r_up,
            report.climb, self._r_climb,
        )  # fmt: skip

    def _noise_of(self, kind: str) -> tuple[float, float]:
        """Velocity and height variances of a feed kind's reports."""
        config = self._config
        v_sigma = config.velocity_sigma.get(kind, config.default_velocity_sigma)
        h_sigma = config.height_sigma.get(kind, config.default_height_sigma)
        noise = (v_sigma * v_sigma, h_sigma * h_sigma)
        if len(self._noise) < _MAX_NOISE_KINDS:
            self._noise[kind] = noise
        return noise


def _fused_step(predictor: Predictor, updater: Updater) -> Step | None:
    """The one-call predict-and-update of a domain's model, if it has one for this updater."""
    if isinstance(predictor, InteractingMultipleModel):
        return predictor.predict_update  # its modes need its own update, whatever the updater
    if type(predictor) is ConstantVelocity and type(updater) is KalmanUpdater:
        return predictor.predict_update
    return None

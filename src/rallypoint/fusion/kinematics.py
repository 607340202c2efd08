"""Constant-velocity Kalman filtering in a track's local ENU frame: the predictor and updater.

The state is position and velocity east and north plus a height. With a white-noise
acceleration model the same in both horizontal axes and isotropic measurement noise (a
report gives one ``sigma_m`` for its horizontal position, one for its velocity), the 4x4
covariance is block diagonal with two identical 2x2 blocks, and stays so after every
predict and update. So the filter keeps one block (three numbers) and does the algebra in
closed form on floats: the same result as the 4x4 matrix filter (a test checks it against
numpy), at a few microseconds per report instead of tens.

Height is a third, independent nearly-constant-velocity axis (height and vertical rate, its
own 2x2 block): ADS-B's ``geom_rate``/``baro_rate`` measures the vertical rate, and without
one the rate is learnt from successive heights, so a climbing aircraft's height no longer
trails as the former random walk did (30 m at 10 m/s).

:meth:`ConstantVelocity.predict_update` fuses the default predictor and updater into one
call on plain floats, with the same arithmetic in the same order (so the same bits), and
:class:`~rallypoint.fusion.filtering.ReportFilter` uses it when the engine runs the
defaults: the hot path builds no intermediate ``State`` and no ``Measurement``.
"""

from typing import NamedTuple, Protocol

import numpy as np
import numpy.typing as npt

from rallypoint.fusion.mixture import Mixture


class State(NamedTuple):
    """A track's estimate at ``time_ms`` in its local frame (metres, metres per second)."""

    time_ms: int
    east: float
    north: float
    v_east: float
    v_north: float
    p_pos: float
    """Variance of the east (and, identically, the north) position, m²."""
    p_cross: float
    """Covariance of position and velocity along one axis, m²/s."""
    p_vel: float
    """Variance of the east (and north) velocity, m²/s²."""
    up: float | None = None
    """Height above the ellipsoid, metres; ``None`` until a report gives one."""
    p_up: float = 0.0
    v_up: float = 0.0
    """Vertical rate, m/s (positive up)."""
    p_upc: float = 0.0
    """Covariance of height and vertical rate, m²/s."""
    p_vup: float = 0.0
    """Variance of the vertical rate, m²/s² (the prior one while no height is known)."""
    mixture: Mixture | None = None
    """The modes of a track filtered by the IMM (:mod:`rallypoint.fusion.imm`); ``None`` otherwise."""

    def covariance(self) -> npt.NDArray[np.float64]:
        """The full 4x4 covariance of ``(east, north, v_east, v_north)``."""
        p, c, v = self.p_pos, self.p_cross, self.p_vel
        return np.array([[p, 0, c, 0], [0, p, 0, c], [c, 0, v, 0], [0, c, 0, v]], dtype=np.float64)


class Measurement(NamedTuple):
    """One report in the track's frame, with its noise variances."""

    time_ms: int
    east: float
    north: float
    r_pos: float
    """Horizontal position variance per axis, m² (``sigma_m`` squared)."""
    velocity: tuple[float, float] | None = None
    """East and north velocity when the source reports course and speed."""
    r_vel: float = 4.0
    up: float | None = None
    r_up: float = 100.0
    climb: float | None = None
    """Vertical rate when the source reports one (ADS-B ``geom_rate``), m/s."""
    r_climb: float = 1.0


class Predictor(Protocol):
    """Moves a state forward (or, for gating a late report, backward) in time."""

    def predict(self, state: State, time_ms: int) -> State: ...


class Updater(Protocol):
    """Combines a predicted state with a measurement taken at the same time."""

    def update(self, predicted: State, measurement: Measurement) -> State: ...


def noise_density(q: float, q_turn: float, v_east: float, v_north: float) -> float:
    """The horizontal white-noise acceleration density at this velocity, m²/s³ (see ``ConstantVelocity``)."""
    return q + q_turn * (v_east * v_east + v_north * v_north)


class ConstantVelocity:
    """Nearly-constant-velocity motion: white-noise acceleration of spectral density ``q``.

    Height and vertical rate follow the same model with vertical acceleration density
    ``q_up`` (m²/s³). ``q_turn`` (1/s) adds ``q_turn * speed²`` to ``q``: the acceleration
    of a turn is turn rate times speed, so a vehicle at 15 m/s that turns as often as a
    walker at 1.5 m/s manoeuvres a hundred times harder, and one density cannot suit both
    (a walker's lets a vehicle's prediction drag its track outside a turn; a vehicle's lets
    a walker's track follow every noisy fix).
    """

    __slots__ = ("q", "q_turn", "q_up")

    def __init__(self, q: float, q_up: float, q_turn: float = 0.0) -> None:
        self.q = q
        self.q_up = q_up
        self.q_turn = q_turn

    def predict(self, state: State, time_ms: int) -> State:
        """The state at ``time_ms``; process noise grows with ``|dt|`` in both directions."""
        dt = (time_ms - state.time_ms) / 1000.0
        if dt == 0.0:
            return state
        adt = abs(dt)
        q = noise_density(self.q, self.q_turn, state.v_east, state.v_north)
        p, c, v = state.p_pos, state.p_cross, state.p_vel
        return State(
            time_ms,
            state.east + dt * state.v_east,
            state.north + dt * state.v_north,
            state.v_east,
            state.v_north,
            p + 2.0 * dt * c + dt * dt * v + q * adt**3 / 3.0,
            c + dt * v + q * dt * adt / 2.0,
            v + q * adt,
            *predict_height(state, dt, adt, self.q_up),
        )

    def predict_update(  # noqa: PLR0917 -- positional: it runs once per report
        self,
        state: State,
        time_ms: int,
        east: float,
        north: float,
        r_pos: float,
        velocity: tuple[float, float] | None,
        r_vel: float,
        up: float | None,
        r_up: float,
        climb: float | None = None,
        r_climb: float = 1.0,
    ) -> State:
        """``KalmanUpdater().update(self.predict(state, time_ms), Measurement(time_ms, east, …))``."""
        t0, e, n, ve, vn, p, c, v, s_up, p_up, v_up, p_upc, p_vup, _ = state
        dt = (time_ms - t0) / 1000.0
        if dt != 0.0:
            adt = abs(dt)
            q = self.q + self.q_turn * (ve * ve + vn * vn)  # noise_density, inlined: the hot path
            e, n = e + dt * ve, n + dt * vn
            p, c, v = (
                p + 2.0 * dt * c + dt * dt * v + q * adt**3 / 3.0,
                c + dt * v + q * dt * adt / 2.0,
                v + q * adt,
            )
            s_up, p_up, v_up, p_upc, p_vup = predict_height(state, dt, adt, self.q_up)
        if up is not None:
            s_up, p_up, v_up, p_upc, p_vup = update_height(
                s_up, p_up, v_up, p_upc, p_vup, up, r_up, climb, r_climb
            )
        de, dn = east - e, north - n
        if velocity is None:
            inv = 1.0 / (p + r_pos)
            k0, k1 = p * inv, c * inv
            return _new_state(
                State,
                (time_ms, e + k0 * de, n + k0 * dn, ve + k1 * de, vn + k1 * dn,
                 p - p * k0, c - c * k0, v - c * k1, s_up, p_up, v_up, p_upc, p_vup, None),
            )  # fmt: skip
        a, d = p + r_pos, v + r_vel
        inv_det = 1.0 / (a * d - c * c)
        k00, k01 = (p * d - c * c) * inv_det, (a * c - p * c) * inv_det
        k10, k11 = (c * d - v * c) * inv_det, (a * v - c * c) * inv_det
        dve, dvn = velocity[0] - ve, velocity[1] - vn
        return _new_state(
            State,
            (time_ms, e + k00 * de + k01 * dve, n + k00 * dn + k01 * dvn,
             ve + k10 * de + k11 * dve, vn + k10 * dn + k11 * dvn,
             p - (k00 * p + k01 * c), c - (k00 * c + k01 * v), v - (k10 * c + k11 * v),
             s_up, p_up, v_up, p_upc, p_vup, None),
        )  # fmt: skip


_new_state = tuple.__new__
"""Builds a ``State`` from a ready tuple without the NamedTuple's Python-level ``__new__``."""


class KalmanUpdater:
    """The Kalman update for position (and, when reported, velocity and height)."""

    __slots__ = ()

    def update(self, predicted: State, measurement: Measurement) -> State:
        """The posterior state; the covariance shrinks and stays symmetric positive-definite."""
        s = predicted
        p, c, v = s.p_pos, s.p_cross, s.p_vel
        de, dn = measurement.east - s.east, measurement.north - s.north
        m = measurement
        height = (
            (s.up, s.p_up, s.v_up, s.p_upc, s.p_vup)
            if m.up is None
            else update_height(s.up, s.p_up, s.v_up, s.p_upc, s.p_vup, m.up, m.r_up, m.climb, m.r_climb)
        )
        if measurement.velocity is None:
            inv = 1.0 / (p + measurement.r_pos)
            k0, k1 = p * inv, c * inv
            return State(
                s.time_ms,
                s.east + k0 * de,
                s.north + k0 * dn,
                s.v_east + k1 * de,
                s.v_north + k1 * dn,
                p - p * k0,
                c - c * k0,
                v - c * k1,
                *height,
            )
        a, d = p + measurement.r_pos, v + measurement.r_vel
        inv_det = 1.0 / (a * d - c * c)
        # Gain K = P S⁻¹ with S⁻¹ = [[d, -c], [-c, a]] / det.
        k00, k01 = (p * d - c * c) * inv_det, (a * c - p * c) * inv_det
        k10, k11 = (c * d - v * c) * inv_det, (a * v - c * c) * inv_det
        dve, dvn = measurement.velocity[0] - s.v_east, measurement.velocity[1] - s.v_north
        return State(
            s.time_ms,
            s.east + k00 * de + k01 * dve,
            s.north + k00 * dn + k01 * dvn,
            s.v_east + k10 * de + k11 * dve,
            s.v_north + k10 * dn + k11 * dvn,
            p - (k00 * p + k01 * c),
            c - (k00 * c + k01 * v),
            v - (k10 * c + k11 * v),
            *height,
        )


Height = tuple[float | None, float, float, float, float]
"""Height, its variance, vertical rate, their covariance, the rate's variance."""


def predict_height(state: State, dt: float, adt: float, q_up: float) -> Height:
    """The height block ``dt`` seconds on; before any height, only the rate's prior is kept."""
    up, p, c, v = state.up, state.p_up, state.p_upc, state.p_vup
    if up is None:
        return None, p, state.v_up, c, v
    return (
        up + dt * state.v_up,
        p + 2.0 * dt * c + dt * dt * v + q_up * adt**3 / 3.0,
        state.v_up,
        c + dt * v + q_up * dt * adt / 2.0,
        v + q_up * adt,
    )


def update_height(  # noqa: PLR0917 -- positional: it runs once per report with a height
    up: float | None,
    p: float,
    v_up: float,
    c: float,
    v: float,
    measured: float,
    r_up: float,
    climb: float | None,
    r_climb: float,
) -> Height:
    """The height block updated with a measured height (and vertical rate, when reported)."""
    if up is None:
        # first height: the rate is the reported one, or zero with the prior variance kept in v
        return (measured, r_up, climb, 0.0, r_climb) if climb is not None else (measured, r_up, 0.0, 0.0, v)
    dh = measured - up
    if climb is None:
        inv = 1.0 / (p + r_up)
        k0, k1 = p * inv, c * inv
        return up + k0 * dh, p - p * k0, v_up + k1 * dh, c - c * k0, v - c * k1
    a, d = p + r_up, v + r_climb
    inv_det = 1.0 / (a * d - c * c)
    k00, k01 = (p * d - c * c) * inv_det, (a * c - p * c) * inv_det
    k10, k11 = (c * d - v * c) * inv_det, (a * v - c * c) * inv_det
    dv = climb - v_up
    return (
        up + k00 * dh + k01 * dv,
        p - (k00 * p + k01 * c),
        v_up + k10 * dh + k11 * dv,
        c - (k00 * c + k01 * v),
        v - (k10 * c + k11 * v),
    )


def initial_state(measurement: Measurement, v_var: float, climb_var: float = 0.0) -> State:
    """A new track's state from its first measurement (velocity unknown: zero, variance ``v_var``;
    vertical rate unknown: zero, variance ``climb_var``)."""
    m = measurement
    velocity, p_vel = (m.velocity, m.r_vel) if m.velocity is not None else ((0.0, 0.0), v_var)
    climb, p_climb = (m.climb, m.r_climb) if m.climb is not None else (0.0, climb_var)
    return State(
        m.time_ms, m.east, m.north, velocity[0], velocity[1], m.r_pos, 0.0, p_vel,
        m.up, m.r_up, climb, 0.0, p_climb,
    )  # fmt: skip

"""A manoeuvre-aware motion model: an interacting multiple model (IMM) of straight flight and turns.

One constant-velocity filter cannot suit an aircraft that flies straight for minutes and
then turns at 3°/s: a process noise small enough to smooth the straight legs lets the
estimate trail outside every turn, one large enough for the turns follows the noise on the
straight legs. The IMM (Blom and Bar-Shalom) runs one filter per motion mode — straight
(constant velocity) and coordinated turns left and right at a known rate — and a Markov
chain that switches between them; each report re-weighs the modes by how well each
predicted it, so the mode probabilities move to the turn within a few reports of its
start, and back when it ends.

A mode with a known turn rate is linear, and rotating a circular covariance keeps it
circular, so each mode is the closed-form filter of :mod:`rallypoint.fusion.kinematics`
written in complex numbers (see :mod:`rallypoint.fusion.mixture`). Mixing the modes adds
the spread of their means, which is circular only on average: its circular part is kept
(the usual projection of a complex filter), a small loss against exactness bought for a
filter that costs tens of microseconds less per report than the 4x4 matrix algebra.

The component is pure and small like the others: time is passed in, and a state carries
its :class:`~rallypoint.fusion.mixture.Mixture`, so reprocessing a late report restarts
from the mixture it would have met on time. Height is filtered as by the constant-velocity
model, once, outside the modes.
"""

import math
from cmath import exp as cexp
from collections.abc import Sequence
from math import cos, exp, sin

from rallypoint.fusion.kinematics import Height, Measurement, State, predict_height, update_height
from rallypoint.fusion.mixture import Mixture, ModeEstimate

INITIAL_PROBABILITIES = (0.8, 0.1, 0.1)
"""Straight, turning left, turning right: a new track is most likely flying straight."""
MIN_PROBABILITY = 1e-12
"""No mode's probability falls below this: an outlier that no mode predicts must not leave
every mode's weight at zero (``exp`` underflows past 745)."""


class InteractingMultipleModel:
    """IMM of three modes: straight (noise ``q_straight``), left and right turns at ``turn_rate``.

    ``straight_s`` and ``turn_s`` are the mean times spent in a mode before switching
    (continuous-time Markov chain: the chance to switch in ``dt`` is ``1 - e^(-dt/τ)``, so
    the irregular intervals of merged receivers need no fixed scan time). A turn ends in
    straight flight, never straight into the opposite turn.
    """

    __slots__ = ("_noise", "_rates", "q_up", "straight_s", "turn_s")

    def __init__(
        self,
        *,
        q_straight: float,
        q_turn: float,
        q_up: float,
        turn_rate: float,
        straight_s: float,
        turn_s: float,
    ) -> None:
        self._rates = (0.0, turn_rate, -turn_rate)
        self._noise = (q_straight, q_turn, q_turn)
        self.q_up = q_up
        self.straight_s = straight_s
        self.turn_s = turn_s

    @property
    def turn_rates(self) -> tuple[float, ...]:
        """Each mode's turn rate, rad/s counter-clockwise, in the order of ``Mixture.probabilities``."""
        return self._rates

    def predict(self, state: State, time_ms: int) -> State:
        """The combined state at ``time_ms`` (mixed, each mode moved on), the predicted mixture in it."""
        dt = (time_ms - state.time_ms) / 1000.0
        mixture = state.mixture or self._start(state)
        if dt != 0.0:
            priors, mixed = self._mix(mixture, abs(dt))
            motion = zip(mixed, self._rates, self._noise, strict=True)
            modes = tuple(propagate(mode, dt, rate, q) for mode, rate, q in motion)
            mixture = self._mixture(priors, modes)
        return self._combined(time_ms, mixture, predict_height(state, dt, abs(dt), self.q_up))

    def update(self, predicted: State, measurement: Measurement) -> State:
        """The posterior of a state from :meth:`predict`: each mode updated, re-weighed by its likelihood."""
        m = predicted.mixture or self._start(predicted)
        position = complex(measurement.east, measurement.north)
        velocity = None if measurement.velocity is None else complex(*measurement.velocity)
        updated, logs = [], []
        for mode in m.modes:
            posterior, log_likelihood = update_mode(
                mode, position, measurement.r_pos, velocity, measurement.r_vel
            )
            updated.append(posterior)
            logs.append(log_likelihood)
        weights = _reweighed(m.probabilities, logs)
        height = (predicted.up, predicted.p_up, predicted.v_up, predicted.p_upc, predicted.p_vup)
        if measurement.up is not None:
            height = update_height(
                *height, measurement.up, measurement.r_up, measurement.climb, measurement.r_climb
            )
        return self._combined(predicted.time_ms, self._mixture(weights, tuple(updated)), height)

    def predict_update(  # noqa: PLR0917 -- positional, unrolled: it runs once per report
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
        """``self.update(self.predict(state, time_ms), Measurement(time_ms, east, north, …))``, unrolled
        for the three modes (a test checks that the two agree)."""
        dt = (time_ms - state.time_ms) / 1000.0
        (u0, u1, u2), (m0, m1, m2), _ = state.mixture or self._start(state)
        if dt != 0.0:
            adt = abs(dt)
            leave = 1.0 - exp(-adt / self.straight_s)
            back = 1.0 - exp(-adt / self.turn_s)
            stay, split, turning = (1.0 - leave) * u0, 0.5 * leave * u0, 1.0 - back
            from_left, from_right = back * u1, back * u2
            u0 = stay + from_left + from_right
            u1, u2 = split + turning * u1, split + turning * u2
            straight = _blend3(stay / u0, m0, from_left / u0, m1, from_right / u0, m2)
            left, right = _blend2(split / u1, m0, m1), _blend2(split / u2, m0, m2)
            q_straight, q_turn = self._noise[0], self._noise[1]
            rate = self._rates[1]
            angle = rate * dt
            turn = complex(cos(angle), sin(angle))
            along = (turn - 1.0) / (1j * rate)
            m0 = propagate_straight(straight, dt, adt, q_straight)
            m1 = _propagate(left, dt, adt, turn, along, q_turn)
            m2 = _propagate(right, dt, adt, turn.conjugate(), along.conjugate(), q_turn)
        measured = complex(east, north)
        measured_velocity = None if velocity is None else complex(*velocity)
        m0, log0 = update_mode(m0, measured, r_pos, measured_velocity, r_vel)
        m1, log1 = update_mode(m1, measured, r_pos, measured_velocity, r_vel)
        m2, log2 = update_mode(m2, measured, r_pos, measured_velocity, r_vel)
        u0, u1, u2 = _reweighed((u0, u1, u2), (log0, log1, log2))
        height = predict_height(state, dt, abs(dt), self.q_up)
        if up is not None:
            height = update_height(*height, up, r_up, climb, r_climb)
        joint = _blend3(u0, m0, u1, m1, u2, m2)
        mixture = _new(Mixture, ((u0, u1, u2), (m0, m1, m2), (u1 - u2) * self._rates[1]))
        z, w = joint.position, joint.velocity
        return _new(
            State,
            (time_ms, z.real, z.imag, w.real, w.imag, joint.p_pos, joint.p_cross.real, joint.p_vel,
             *height, mixture),
        )  # fmt: skip

    def _start(self, state: State) -> Mixture:
        """The mixture of a track's first step in this model: every mode from its estimate."""
        start = ModeEstimate(
            complex(state.east, state.north),
            complex(state.v_east, state.v_north),
            state.p_pos,
            complex(state.p_cross),
            state.p_vel,
        )
        return Mixture(INITIAL_PROBABILITIES, (start,) * len(self._rates), 0.0)

    def _mix(self, mixture: Mixture, dt: float) -> tuple[tuple[float, ...], list[ModeEstimate]]:
        """The IMM's interaction: each mode's prior probability and its start, mixed from every mode."""
        leave = 1.0 - exp(-dt / self.straight_s)
        back = 1.0 - exp(-dt / self.turn_s)
        # p[i][j]: from mode i to mode j within dt
        p = ((1.0 - leave, leave / 2.0, leave / 2.0), (back, 1.0 - back, 0.0), (back, 0.0, 1.0 - back))
        weights = mixture.probabilities
        priors, mixed = [], []
        for j in range(3):
            prior = sum(p[i][j] * weights[i] for i in range(3))
            priors.append(prior)
            shares = [(p[i][j] * weights[i] / prior, mixture.modes[i]) for i in range(3) if p[i][j] > 0.0]
            mixed.append(moment_match(shares))
        return tuple(priors), mixed

    def _mixture(self, probabilities: Sequence[float], modes: tuple[ModeEstimate, ...]) -> Mixture:
        turn = sum(w * rate for w, rate in zip(probabilities, self._rates, strict=True))
        return Mixture(tuple(probabilities), modes, turn)

    @staticmethod
    def _combined(time_ms: int, mixture: Mixture, height: Height) -> State:
        """The state the rest of the engine reads: the modes' moment-matched Gaussian, the mixture kept."""
        joint = moment_match(list(zip(mixture.probabilities, mixture.modes, strict=True)))
        z, w = joint.position, joint.velocity
        return State(
            time_ms, z.real, z.imag, w.real, w.imag, joint.p_pos, joint.p_cross.real, joint.p_vel, *height,
            mixture=mixture,
        )  # fmt: skip


_new = tuple.__new__
"""Builds a NamedTuple from a ready tuple without its Python-level ``__new__`` (the hot path)."""


def _reweighed(priors: Sequence[float], logs: Sequence[float]) -> tuple[float, float, float]:
    """Posterior mode probabilities: prior x likelihood, normalised (in logs, against underflow)."""
    l0, l1, l2 = logs
    best = max(l0, l1, l2)
    w0, w1, w2 = priors[0] * exp(l0 - best), priors[1] * exp(l1 - best), priors[2] * exp(l2 - best)
    inv = 1.0 / (w0 + w1 + w2)
    floor = MIN_PROBABILITY
    return max(w0 * inv, floor), max(w1 * inv, floor), max(w2 * inv, floor)


def _blend2(weight: float, a: ModeEstimate, b: ModeEstimate) -> ModeEstimate:
    """``moment_match([(weight, a), (1 - weight, b)])`` in closed form: the spread is ``w(1-w)ΔΔᴴ``."""
    rest = 1.0 - weight
    dz, dw = a.position - b.position, a.velocity - b.velocity
    spread = 0.5 * weight * rest
    return _new(
        ModeEstimate,
        (b.position + weight * dz, b.velocity + weight * dw,
         weight * a.p_pos + rest * b.p_pos + spread * abs(dz) ** 2,
         weight * a.p_cross + rest * b.p_cross + spread * dz * dw.conjugate(),
         weight * a.p_vel + rest * b.p_vel + spread * abs(dw) ** 2),
    )  # fmt: skip


def _blend3(  # noqa: PLR0917 -- three weighted modes
    w0: float, a: ModeEstimate, w1: float, b: ModeEstimate, w2: float, c: ModeEstimate
) -> ModeEstimate:
    """``moment_match`` of three modes, unrolled: ``Σ w (P + x xᴴ) - x̄ x̄ᴴ`` (circular part)."""
    za, zb, zc, va, vb, vc = a.position, b.position, c.position, a.velocity, b.velocity, c.velocity
    z = w0 * za + w1 * zb + w2 * zc
    v = w0 * va + w1 * vb + w2 * vc
    da, db, dc = za - z, zb - z, zc - z
    ea, eb, ec = va - v, vb - v, vc - v
    h0, h1, h2 = 0.5 * w0, 0.5 * w1, 0.5 * w2
    return _new(
        ModeEstimate,
        (z, v,
         w0 * a.p_pos + w1 * b.p_pos + w2 * c.p_pos
         + h0 * abs(da) ** 2 + h1 * abs(db) ** 2 + h2 * abs(dc) ** 2,
         w0 * a.p_cross + w1 * b.p_cross + w2 * c.p_cross
         + h0 * da * ea.conjugate() + h1 * db * eb.conjugate() + h2 * dc * ec.conjugate(),
         w0 * a.p_vel + w1 * b.p_vel + w2 * c.p_vel
         + h0 * abs(ea) ** 2 + h1 * abs(eb) ** 2 + h2 * abs(ec) ** 2),
    )  # fmt: skip


def moment_match(shares: Sequence[tuple[float, ModeEstimate]]) -> ModeEstimate:
    """The Gaussian with the mean and (circular part of the) covariance of a weighted mixture."""
    position = sum((w * m.position for w, m in shares), 0j)
    velocity = sum((w * m.velocity for w, m in shares), 0j)
    p_pos = p_vel = 0.0
    p_cross = 0j
    for weight, mode in shares:
        dz, dw = mode.position - position, mode.velocity - velocity
        p_pos += weight * (mode.p_pos + 0.5 * abs(dz) ** 2)
        p_cross += weight * (mode.p_cross + 0.5 * dz * dw.conjugate())
        p_vel += weight * (mode.p_vel + 0.5 * abs(dw) ** 2)
    return ModeEstimate(position, velocity, p_pos, p_cross, p_vel)


def propagate(mode: ModeEstimate, dt: float, rate: float, q: float) -> ModeEstimate:
    """One mode ``dt`` seconds on: the velocity turned by ``rate·dt``, white-noise acceleration ``q``."""
    if rate == 0.0:
        return propagate_straight(mode, dt, abs(dt), q)
    turn = cexp(1j * rate * dt)
    return _propagate(mode, dt, abs(dt), turn, (turn - 1.0) / (1j * rate), q)


def propagate_straight(mode: ModeEstimate, dt: float, adt: float, q: float) -> ModeEstimate:
    """A straight mode ``dt`` seconds on: the algebra of ``kinematics.ConstantVelocity``."""
    p, c, v = mode.p_pos, mode.p_cross, mode.p_vel
    return _new(
        ModeEstimate,
        (mode.position + dt * mode.velocity, mode.velocity,
         p + 2.0 * dt * c.real + dt * dt * v + q * adt**3 / 3.0, c + dt * v + q * dt * adt / 2.0,
         v + q * adt),
    )  # fmt: skip


def _propagate(  # noqa: PLR0917 -- the turn's two factors come precomputed
    mode: ModeEstimate, dt: float, adt: float, turn: complex, along: complex, q: float
) -> ModeEstimate:
    """A turning mode moved on: ``position + along·velocity``, ``velocity·turn`` (``turn = e^{iωdt}``)."""
    p, c, v = mode.p_pos, mode.p_cross, mode.p_vel
    return _new(
        ModeEstimate,
        (mode.position + along * mode.velocity, turn * mode.velocity,
         p + 2.0 * (along.conjugate() * c).real + abs(along) ** 2 * v + q * adt**3 / 3.0,
         (c + along * v) * turn.conjugate() + q * dt * adt / 2.0, v + q * adt),
    )  # fmt: skip


def update_mode(
    mode: ModeEstimate, position: complex, r_pos: float, velocity: complex | None, r_vel: float
) -> tuple[ModeEstimate, float]:
    """The mode updated with a measured position (and velocity), and the report's log-likelihood.

    The log-likelihood leaves out the constant that every mode shares for the same report.
    """
    p, c, v = mode.p_pos, mode.p_cross, mode.p_vel
    dz = position - mode.position
    cc = abs(c) ** 2
    if velocity is None:
        s = p + r_pos
        inv = 1.0 / s
        k0, k1 = p * inv, c.conjugate() * inv
        updated = _new(
            ModeEstimate,
            (mode.position + k0 * dz, mode.velocity + k1 * dz, p - p * k0, c - c * k0, v - cc * inv),
        )
        return updated, -0.5 * abs(dz) ** 2 * inv - math.log(s)
    a, d = p + r_pos, v + r_vel
    det = a * d - cc
    inv = 1.0 / det
    k00, k01 = (p * d - cc) * inv, c * (r_pos * inv)
    k10, k11 = c.conjugate() * (r_vel * inv), (v * a - cc) * inv
    dw = velocity - mode.velocity
    updated = _new(
        ModeEstimate,
        (mode.position + k00 * dz + k01 * dw, mode.velocity + k10 * dz + k11 * dw,
         p - (k00 * p + r_pos * cc * inv), c - (k00 * c + k01 * v), v - (r_vel * cc * inv + k11 * v)),
    )  # fmt: skip
    quad = (d * abs(dz) ** 2 + a * abs(dw) ** 2 - 2.0 * (dz.conjugate() * c * dw).real) * inv
    return updated, -0.5 * quad - math.log(det)

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

from rallypoint.fusion.kinematics import State, predict_height, update_height
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
        priors, modes = self._predicted(state, dt)
        return self._combined(state, time_ms, priors, modes, predict_height(state, dt, abs(dt), self.q_up))

    def predict_update(  # noqa: PLR0917 -- positional: the engine's fused step (kinematics.Step)
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
        """``state`` predicted to ``time_ms`` and updated with one report, mode by mode."""
        dt = (time_ms - state.time_ms) / 1000.0
        priors, predicted = self._predicted(state, dt)
        measured = complex(east, north)
        measured_velocity = None if velocity is None else complex(*velocity)
        updated, logs = [], []
        for mode in predicted:
            posterior, log_likelihood = update_mode(mode, measured, r_pos, measured_velocity, r_vel)
            updated.append(posterior)
            logs.append(log_likelihood)
        best = max(logs)
        weights = [prior * math.exp(log - best) for prior, log in zip(priors, logs, strict=True)]
        total = sum(weights)
        posteriors = tuple(max(w / total, MIN_PROBABILITY) for w in weights)
        height = predict_height(state, dt, abs(dt), self.q_up)
        if up is not None:
            height = update_height(*height, up, r_up, climb, r_climb)
        return self._combined(state, time_ms, posteriors, tuple(updated), height)

    def _predicted(self, state: State, dt: float) -> tuple[tuple[float, ...], tuple[ModeEstimate, ...]]:
        """The modes' prior probabilities and mixed-then-propagated estimates ``dt`` seconds on."""
        mixture = state.mixture
        if mixture is None:  # the track's first step in this model: every mode from its estimate
            start = ModeEstimate(
                complex(state.east, state.north),
                complex(state.v_east, state.v_north),
                state.p_pos,
                complex(state.p_cross),
                state.p_vel,
            )
            mixture = Mixture(INITIAL_PROBABILITIES, (start,) * len(self._rates), 0.0)
        if dt == 0.0:
            return mixture.probabilities, mixture.modes
        priors, mixed = self._mix(mixture, abs(dt))
        modes = tuple(
            propagate(mode, dt, rate, q)
            for mode, rate, q in zip(mixed, self._rates, self._noise, strict=True)
        )
        return priors, modes

    def _mix(self, mixture: Mixture, dt: float) -> tuple[tuple[float, ...], list[ModeEstimate]]:
        """The IMM's interaction: each mode's prior probability and its start, mixed from every mode."""
        leave = 1.0 - math.exp(-dt / self.straight_s)
        back = 1.0 - math.exp(-dt / self.turn_s)
        straight, left, right = mixture.probabilities
        # p[i][j]: from mode i to mode j within dt
        p = ((1.0 - leave, leave / 2.0, leave / 2.0), (back, 1.0 - back, 0.0), (back, 0.0, 1.0 - back))
        weights = (straight, left, right)
        priors, mixed = [], []
        for j in range(3):
            prior = sum(p[i][j] * weights[i] for i in range(3))
            priors.append(prior)
            shares = [(p[i][j] * weights[i] / prior, mixture.modes[i]) for i in range(3) if p[i][j] > 0.0]
            mixed.append(moment_match(shares))
        return tuple(priors), mixed

    def _combined(
        self,
        state: State,
        time_ms: int,
        probabilities: tuple[float, ...],
        modes: tuple[ModeEstimate, ...],
        height: tuple[float | None, float, float, float, float],
    ) -> State:
        """The state the rest of the engine reads: the modes' moment-matched Gaussian, the mixture kept."""
        joint = moment_match(list(zip(probabilities, modes, strict=True)))
        turn = sum(w * rate for w, rate in zip(probabilities, self._rates, strict=True))
        return State(
            time_ms,
            joint.position.real,
            joint.position.imag,
            joint.velocity.real,
            joint.velocity.imag,
            joint.p_pos,
            joint.p_cross.real,
            joint.p_vel,
            *height,
            mixture=Mixture(probabilities, modes, turn),
        )


def moment_match(shares: Sequence[tuple[float, ModeEstimate]]) -> ModeEstimate:
    """The Gaussian with the mean and (circular part of the) covariance of a weighted mixture."""
    position = sum((w * m.position for w, m in shares), 0j)
    velocity = sum((w * m.velocity for w, m in shares), 0j)
    p_pos = p_vel = 0.0
    p_cross = 0j
    for weight, mode in shares:
        dz, dw = mode.position - position, mode.velocity - velocity
        p_pos += weight * (mode.p_pos + 0.5 * (dz.real * dz.real + dz.imag * dz.imag))
        p_cross += weight * (mode.p_cross + 0.5 * dz * dw.conjugate())
        p_vel += weight * (mode.p_vel + 0.5 * (dw.real * dw.real + dw.imag * dw.imag))
    return ModeEstimate(position, velocity, p_pos, p_cross, p_vel)


def propagate(mode: ModeEstimate, dt: float, rate: float, q: float) -> ModeEstimate:
    """One mode ``dt`` seconds on: the velocity turned by ``rate·dt``, white-noise acceleration ``q``."""
    adt = abs(dt)
    if rate == 0.0:
        turn, along = 1.0 + 0j, complex(dt)
    else:
        turn = cexp(1j * rate * dt)
        along = (turn - 1.0) / (1j * rate)
    p, c, v = mode.p_pos, mode.p_cross, mode.p_vel
    return ModeEstimate(
        mode.position + along * mode.velocity,
        turn * mode.velocity,
        p + 2.0 * (along.conjugate() * c).real + (along.real**2 + along.imag**2) * v + q * adt**3 / 3.0,
        (c + along * v) * turn.conjugate() + q * dt * adt / 2.0,
        v + q * adt,
    )


def update_mode(
    mode: ModeEstimate, position: complex, r_pos: float, velocity: complex | None, r_vel: float
) -> tuple[ModeEstimate, float]:
    """The mode updated with a measured position (and velocity), and the report's log-likelihood.

    The log-likelihood leaves out the constant that every mode shares for the same report.
    """
    p, c, v = mode.p_pos, mode.p_cross, mode.p_vel
    dz = position - mode.position
    cc = c.real * c.real + c.imag * c.imag
    if velocity is None:
        s = p + r_pos
        inv = 1.0 / s
        k0, k1 = p * inv, c.conjugate() * inv
        updated = ModeEstimate(
            mode.position + k0 * dz, mode.velocity + k1 * dz, p - p * k0, c - c * k0, v - cc * inv
        )
        return updated, -0.5 * (dz.real * dz.real + dz.imag * dz.imag) * inv - math.log(s)
    a, d = p + r_pos, v + r_vel
    det = a * d - cc
    inv = 1.0 / det
    k00, k01 = (p * d - cc) * inv, c * (r_pos * inv)
    k10, k11 = c.conjugate() * (r_vel * inv), (v * a - cc) * inv
    dw = velocity - mode.velocity
    updated = ModeEstimate(
        mode.position + k00 * dz + k01 * dw,
        mode.velocity + k10 * dz + k11 * dw,
        p - (k00 * p + r_pos * cc * inv),
        c - (k00 * c + k01 * v),
        v - (r_vel * cc * inv + k11 * v),
    )
    quad = (d * (dz.real**2 + dz.imag**2) + a * (dw.real**2 + dw.imag**2)
            - 2.0 * (dz.conjugate() * c * dw).real) * inv  # fmt: skip
    return updated, -0.5 * quad - math.log(det)

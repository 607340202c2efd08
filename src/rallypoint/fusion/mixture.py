"""The per-track record of an interacting-multiple-model filter: one estimate per motion mode.

Kept apart from :mod:`rallypoint.fusion.imm` (the algorithm) so that
:class:`~rallypoint.fusion.kinematics.State` can carry it without an import cycle: a state
whose track runs the IMM holds its :class:`Mixture`, so the track's history keeps every
mode and its probability, and a late report is re-filtered from exactly the mixture it
would have met on time.

A mode's horizontal estimate is kept in complex numbers, ``east + i·north``: with isotropic
noise (one sigma for a report's position, one for its velocity) and motion that turns the
velocity by an angle (a rotation, a multiplication by ``e^{iωt}``), the covariance of
position and velocity stays circular, so two real variances and one complex covariance
describe the 4x4 matrix exactly and the algebra is that of a scalar Kalman filter.
"""

from typing import NamedTuple

from rallypoint.fusion.geo import LocalFrame


class ModeEstimate(NamedTuple):
    """One mode's Gaussian in the track's frame; variances are per axis, as in ``State``."""

    position: complex
    """East + i·north, metres."""
    velocity: complex
    """East + i·north velocity, m/s."""
    p_pos: float
    """Variance of the east (and, identically, the north) position, m²."""
    p_cross: complex
    """Covariance of position and velocity, ``E[Δposition · conj(Δvelocity)]`` per axis, m²/s."""
    p_vel: float
    """Variance of the east (and north) velocity, m²/s²."""


class Mixture(NamedTuple):
    """Every mode's estimate and probability after the newest report, in the IMM's mode order."""

    probabilities: tuple[float, ...]
    modes: tuple[ModeEstimate, ...]
    turn_rate: float
    """The probability-weighted turn rate of the modes, rad/s counter-clockwise: for extrapolation."""


def reframe(mixture: Mixture, old: LocalFrame, new: LocalFrame) -> Mixture:
    """``mixture`` moved from frame ``old`` to ``new`` (a re-anchoring).

    Positions go through geodetic coordinates and velocities through ``velocity_in``; the
    covariances are unchanged, because a circular covariance is the same in rotated axes.
    """
    modes = []
    for mode in mixture.modes:
        lat, lon, _ = old.to_geodetic(mode.position.real, mode.position.imag)
        east, north, _ = new.to_enu(lat, lon)
        v_east, v_north = old.velocity_in(new, mode.velocity.real, mode.velocity.imag)
        modes.append(mode._replace(position=complex(east, north), velocity=complex(v_east, v_north)))
    return mixture._replace(modes=tuple(modes))

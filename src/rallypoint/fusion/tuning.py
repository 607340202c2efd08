"""The engine's configuration: motion models per domain, gates, limits, the alias table.

Numbers are chosen for the objects a command post tracks, and each says why. The
configuration is a frozen value: a running engine changes aliases through
``FusionEngine.set_alias``, never by mutating its config.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from rallypoint.errors import FusionError
from rallypoint.fusion.report import Domain


class Motion(StrEnum):
    """A domain's motion model (the ``motion`` key of ``[fusion.air]`` and the others)."""

    CV = "cv"
    """Nearly constant velocity (:class:`~rallypoint.fusion.kinematics.ConstantVelocity`)."""
    IMM = "imm"
    """Straight flight and coordinated turns (:class:`~rallypoint.fusion.imm.InteractingMultipleModel`)."""


@dataclass(frozen=True, slots=True)
class DomainModel:
    """How objects of one domain move, and how long a silent one is kept."""

    q: float
    """White-noise acceleration spectral density, m²/s³ (≈ manoeuvre acceleration² x time scale)."""
    q_up: float
    """Vertical white-noise acceleration density, m²/s³ (height and vertical rate are filtered)."""
    initial_speed_sigma: float
    """Velocity sigma of a track started from a report without course and speed, m/s."""
    silence_ms: int
    """Delete a track after this long without a report."""
    coast_ms: int
    """Mark a track coasting after this long without a report."""
    max_speed: float
    """No object of the domain is faster, m/s: a report farther than that (+4 sigma) is not the track's."""
    initial_climb_sigma: float = 1.0
    """Vertical-rate sigma of a track whose first report gives no vertical rate, m/s."""
    max_turn_rate_dps: float = 0.0
    """Largest turn rate estimated for extrapolation, degrees/s; 0: extrapolate straight."""
    q_turn: float = 0.0
    """Process noise per speed², 1/s: ``q + q_turn * speed²`` is the density at that speed
    (about turn rate² x a turn's time scale: a turn's acceleration grows with speed)."""
    motion: Motion = Motion.CV
    """The motion model; the ``imm_*`` numbers below apply to ``Motion.IMM`` only."""
    imm_turn_dps: float = 3.0
    """The IMM's turn modes turn at this rate, degrees/s, left and right (a rate-one turn)."""
    imm_straight_q: float = 0.5
    """Process noise of the IMM's straight mode, m²/s³: speed changes, no turns."""
    imm_turn_q: float = 2.0
    """Process noise of its turn modes, m²/s³: turns faster or slower than ``imm_turn_dps``."""
    imm_straight_s: float = 30.0
    """Mean time flown straight before a turn, s (the Markov chain's sojourn)."""
    imm_turn_s: float = 15.0
    """Mean length of a turn, s (a rate-one turn through 45°)."""


DEFAULT_MODELS: Mapping[Domain, DomainModel] = MappingProxyType(
    {
        # Airliners turn at ~1.5 m/s² (a 3°/s turn at 120 m/s is 6 m/s²), helicopters hover and
        # sprint; ADS-B reports twice a second. q = 10 scored best on the bench (3 trailed turns).
        Domain.AIR: DomainModel(
            q=10.0,
            q_up=2.0,
            initial_speed_sigma=150.0,
            silence_ms=60_000,
            coast_ms=15_000,
            max_speed=350.0,
            initial_climb_sigma=10.0,
            max_turn_rate_dps=6.0,  # rate-one turns are 3°/s; fighters and helicopters more
        ),
        # Ships change speed over minutes; class A AIS at anchor reports only every 3 minutes.
        Domain.SEA: DomainModel(
            q=0.02, q_up=0.001, initial_speed_sigma=10.0, silence_ms=900_000, coast_ms=240_000, max_speed=30.0
        ),
        # People and vehicles stop and turn often; ATAK sends a PLI every few seconds to minutes.
        # A walker at 1.5 m/s and a car at 15 m/s turn alike, but the car's acceleration is ten
        # times the walker's: q_turn = 0.01/s (≈ (5°/s)² x 3 s) gives the car q ≈ 2.3 m²/s³ and
        # keeps the walker near 0.1. No turn extrapolation: between APRS reports 10 s apart the
        # turn rate learnt is stale (the turn has often ended), and extrapolating it cost 1 m OSPA.
        Domain.GROUND: DomainModel(
            q=0.1,
            q_up=0.05,
            initial_speed_sigma=10.0,
            silence_ms=600_000,
            coast_ms=120_000,
            max_speed=60.0,
            q_turn=0.01,
        ),
    }
)

DEFAULT_VELOCITY_SIGMA: Mapping[str, float] = MappingProxyType(
    {"adsb": 1.5, "ais": 0.5, "aprs": 2.0, "cot": 2.0}
)
"""Velocity sigma per feed kind, m/s, for reports that carry course and speed."""

DEFAULT_HEIGHT_SIGMA: Mapping[str, float] = MappingProxyType({"adsb": 15.0, "cot": 10.0, "aprs": 30.0})
"""Height sigma per feed kind, metres (ADS-B altitude comes in 25 ft steps)."""

CHI2_2DOF_999 = 13.815510557964274
"""Chi-squared quantile for 2 degrees of freedom at 99.9 %: a true report falls outside 1 in 1000."""


@dataclass(frozen=True, slots=True)
class FusionConfig:
    """Everything the engine needs to know, with defaults that suit a mixed air/sea/ground picture."""

    models: Mapping[Domain, DomainModel] = field(default_factory=lambda: DEFAULT_MODELS)
    aliases: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """Cross-identity map, e.g. ``{"mmsi:227006760": "uid:Rescue-3"}``."""
    gate: float = CHI2_2DOF_999
    """Squared Mahalanobis distance beyond which a report without identity is not a track's."""
    velocity_sigma: Mapping[str, float] = field(default_factory=lambda: DEFAULT_VELOCITY_SIGMA)
    default_velocity_sigma: float = 2.0
    height_sigma: Mapping[str, float] = field(default_factory=lambda: DEFAULT_HEIGHT_SIGMA)
    default_height_sigma: float = 20.0
    climb_sigma: float = 1.0
    """Error of a reported vertical rate, m/s (ADS-B gives it in 64 ft/min steps: 0.33 m/s)."""
    history_length: int = 32
    """Reports kept per track for reprocessing late ones: ~16 s of ADS-B from two receivers."""
    max_lag_ms: int = 20_000
    """A report this much older than its track's estimate is dropped (and counted), not reprocessed."""
    max_future_ms: int = 10_000
    """A report this far ahead of the engine's clock has a broken timestamp: dropped and counted."""
    confirm_hits: int = 3
    """Reports a track without identity needs before it is shown (clutter rarely lines up thrice)."""
    tentative_silence_ms: int = 15_000
    """A track without identity that is not yet confirmed is dropped after this long unheard."""
    reanchor_m: float = 10_000.0
    """Re-centre a track's frame when it is this far from the origin (keeps the plane flat)."""
    association_radius_m: float = 50_000.0
    """Tracks whose frame origin is farther than this (plus ``reanchor_m``) are not gated at all."""
    max_tracks: int = 100_000
    """Hard cap on live tracks: a feed gone mad must not exhaust memory. New ones beyond are counted."""
    uid_prefix: str = "fused-"

    def __post_init__(self) -> None:
        missing = set(Domain) - set(self.models)
        if missing:
            raise FusionError(f"no motion model for {sorted(missing)}")
        if self.history_length < 2 or self.confirm_hits < 1 or self.gate <= 0 or self.max_tracks < 1:
            raise FusionError(
                "history_length ≥ 2, confirm_hits ≥ 1, gate > 0 and max_tracks ≥ 1 are required"
            )

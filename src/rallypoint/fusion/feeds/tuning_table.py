"""The operator's tuning of the fusion engine: the ``[fusion]`` table's numbers, checked.

Every key is optional and falls back to :data:`rallypoint.fusion.tuning.DEFAULT_MODELS` and
the :class:`~rallypoint.fusion.tuning.FusionConfig` defaults, so a file that says nothing
gets the tuned defaults. Per-domain models go in ``[fusion.air]``, ``[fusion.sea]`` and
``[fusion.ground]``::

    [fusion]
    gate = 13.8                  # squared Mahalanobis distance (chi-squared, 2 dof, 99.9 %)
    confirm_hits = 3             # reports before a track without identity is shown
    tentative_delete_after_s = 15

    [fusion.air]
    process_noise = 10.0         # m²/s³, white-noise acceleration
    delete_after_s = 60
    coast_after_s = 15
    motion = "imm"               # "cv" (constant velocity) or "imm" (straight + turns)
    imm_turn_rate_dps = 3.0      # the IMM's turn modes, and its other imm_* numbers

A bad value is refused with the key, the value and what is allowed: a typo in a tuning file
must not start a server that tracks nothing.
"""

import math
from collections.abc import Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from rallypoint.errors import ConfigError
from rallypoint.fusion.report import Domain
from rallypoint.fusion.tuning import DEFAULT_MODELS, DomainModel, FusionConfig, Motion

DOMAIN_KEYS = {
    "process_noise": "q",
    "height_noise": "q_up",
    "initial_speed_sigma": "initial_speed_sigma",
    "max_speed": "max_speed",
    "initial_climb_sigma": "initial_climb_sigma",
}
"""Per-domain keys in the file → :class:`DomainModel` fields (positive numbers)."""
MAX_TURN_KEY = "max_turn_rate_dps"
"""Per-domain turn-rate cap for extrapolation, degrees/s: 0 (straight) up to ``MAX_TURN_DPS``."""
MAX_TURN_DPS = 30.0
TURN_NOISE_KEY = "turn_noise"
"""Per-domain process noise per speed², 1/s (``DomainModel.q_turn``): 0 (none) up to ``MAX_TURN_NOISE``."""
MAX_TURN_NOISE = 1.0
IMM_KEYS = {
    "imm_turn_rate_dps": "imm_turn_dps",
    "imm_straight_noise": "imm_straight_q",
    "imm_turn_noise": "imm_turn_q",
    "imm_straight_s": "imm_straight_s",
    "imm_turn_s": "imm_turn_s",
}
"""Per-domain IMM keys → :class:`DomainModel` fields (positive numbers; the turn rate at most
``MAX_TURN_DPS``)."""
MOTION_KEY = "motion"
"""Per-domain motion model: ``"cv"`` or ``"imm"`` (:class:`~rallypoint.fusion.tuning.Motion`)."""
DOMAIN_SECONDS = {"delete_after_s": "silence_ms", "coast_after_s": "coast_ms"}
"""Per-domain times in seconds → :class:`DomainModel` fields in milliseconds."""
ENGINE_KEYS = ("gate", "confirm_hits", "tentative_delete_after_s", "max_lag_s")
"""Engine-wide tuning keys of ``[fusion]``."""
OTHER_KEYS = ("aliases", "stale_s", "min_emit_interval_s", *(d.value for d in Domain))
"""The other keys ``[fusion]`` may hold (read elsewhere)."""
MAX_SECONDS = 7 * 24 * 3600.0
"""No silence or lag longer than a week: a larger number is a unit mistake (ms for s)."""


def parse_tuning(fusion: Mapping[str, Any]) -> FusionConfig:
    """The engine configuration the ``[fusion]`` table describes (aliases are added by the caller)."""
    unknown = set(fusion) - set(ENGINE_KEYS) - set(OTHER_KEYS)
    if unknown:
        raise ConfigError(
            f"[fusion]: unknown key(s) {', '.join(sorted(unknown))}"
            f" (tuning keys: {', '.join(ENGINE_KEYS)}; per domain: [fusion.air] [fusion.sea] [fusion.ground])"
        )
    models = {domain: _model(domain, fusion.get(domain.value, {})) for domain in Domain}
    defaults = FusionConfig()
    gate = _positive(fusion, "gate", "fusion", defaults.gate)
    hits = fusion.get("confirm_hits", defaults.confirm_hits)
    if isinstance(hits, bool) or not isinstance(hits, int) or not 1 <= hits <= defaults.history_length:
        raise ConfigError(f"[fusion] confirm_hits = {hits!r}: an integer in 1..{defaults.history_length}")
    tentative = _seconds(fusion, "tentative_delete_after_s", "fusion", defaults.tentative_silence_ms)
    max_lag = _seconds(fusion, "max_lag_s", "fusion", defaults.max_lag_ms)
    return FusionConfig(
        models=MappingProxyType(models),
        gate=gate,
        confirm_hits=hits,
        tentative_silence_ms=tentative,
        max_lag_ms=max_lag,
    )


def _model(domain: Domain, raw: Any) -> DomainModel:
    where = f"fusion.{domain.value}"
    if not isinstance(raw, dict):
        raise ConfigError(f"[{where}] must be a table")
    keys = [*DOMAIN_KEYS, *DOMAIN_SECONDS, MAX_TURN_KEY, TURN_NOISE_KEY, MOTION_KEY, *IMM_KEYS]
    unknown = set(raw) - set(keys)
    if unknown:
        allowed = ", ".join(keys)
        raise ConfigError(f"[{where}]: unknown key(s) {', '.join(sorted(unknown))} (allowed: {allowed})")
    model = DEFAULT_MODELS[domain]
    changes: dict[str, Any] = {
        field: _positive(raw, key, where, getattr(model, field)) for key, field in DOMAIN_KEYS.items()
    }
    changes |= {
        field: _seconds(raw, key, where, getattr(model, field)) for key, field in DOMAIN_SECONDS.items()
    }
    changes |= _motion(raw, where, model)
    turn = raw.get(MAX_TURN_KEY, model.max_turn_rate_dps)
    if isinstance(turn, bool) or not isinstance(turn, int | float) or not 0 <= turn <= MAX_TURN_DPS:
        raise ConfigError(
            f"[{where}] {MAX_TURN_KEY} = {turn!r}: a number in 0..{MAX_TURN_DPS:g} (0: straight)"
        )
    changes["max_turn_rate_dps"] = float(turn)
    turn_noise = raw.get(TURN_NOISE_KEY, model.q_turn)
    if (
        isinstance(turn_noise, bool)
        or not isinstance(turn_noise, int | float)
        or not 0 <= turn_noise <= MAX_TURN_NOISE
    ):
        raise ConfigError(
            f"[{where}] {TURN_NOISE_KEY} = {turn_noise!r}: a number in 0..{MAX_TURN_NOISE:g} (0: none)"
        )
    changes["q_turn"] = float(turn_noise)
    if "coast_after_s" not in raw:
        # a shorter deletion time alone must not leave the default coasting time past it
        changes["coast_ms"] = min(model.coast_ms, changes["silence_ms"])
    tuned = replace(model, **changes)
    if tuned.coast_ms > tuned.silence_ms:
        raise ConfigError(
            f"[{where}] coast_after_s ({tuned.coast_ms / 1000:g}) must not exceed"
            f" delete_after_s ({tuned.silence_ms / 1000:g})"
        )
    return tuned


def _motion(raw: Mapping[str, Any], where: str, model: DomainModel) -> dict[str, Any]:
    """The motion model's keys: which model, and the IMM's numbers (checked even for ``"cv"``)."""
    motion = raw.get(MOTION_KEY, model.motion.value)
    if motion not in {m.value for m in Motion}:
        choices = " or ".join(f'"{m.value}"' for m in Motion)
        raise ConfigError(f"[{where}] {MOTION_KEY} = {motion!r}: {choices}")
    changes: dict[str, Any] = {"motion": Motion(motion)}
    changes |= {field: _positive(raw, key, where, getattr(model, field)) for key, field in IMM_KEYS.items()}
    if changes["imm_turn_dps"] > MAX_TURN_DPS:
        raise ConfigError(
            f"[{where}] imm_turn_rate_dps = {changes['imm_turn_dps']:g}: at most {MAX_TURN_DPS:g}"
        )
    return changes


def _positive(table: Mapping[str, Any], key: str, where: str, default: float) -> float:
    value = table.get(key, default)
    number = not isinstance(value, bool) and isinstance(value, int | float)
    if not number or not math.isfinite(value) or value <= 0:
        raise ConfigError(f"[{where}] {key} = {value!r}: a finite number greater than 0")
    return float(value)


def _seconds(table: Mapping[str, Any], key: str, where: str, default_ms: int) -> int:
    seconds = _positive(table, key, where, default_ms / 1000.0)
    if seconds > MAX_SECONDS:
        raise ConfigError(f"[{where}] {key} = {seconds:g}: at most {MAX_SECONDS:g} s (a week)")
    return round(seconds * 1000)

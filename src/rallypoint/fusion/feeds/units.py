"""Unit conversions the feeds share (aviation and marine units to SI)."""

KNOT_MS = 1852.0 / 3600.0
"""Metres per second in one knot."""
KMH_MS = 1000.0 / 3600.0
FOOT_M = 0.3048


def knots(value: float) -> float:
    """Knots to metres per second."""
    return value * KNOT_MS


def feet(value: float) -> float:
    """Feet to metres."""
    return value * FOOT_M


def course(value: float) -> float | None:
    """A course in degrees true folded into [0, 360), or None when out of range."""
    return value % 360.0 if 0.0 <= value <= 360.0 else None


def valid_position(lat: float, lon: float) -> bool:
    """A real WGS-84 position (AIS and others mark "unknown" with 91/181)."""
    return -90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0

"""What every feed hands the fusion engine: one observation of one object by one source.

Feeds (ADS-B, AIS, APRS, CoT PLI, GeoJSON, the simulator) decode their own formats and
produce :class:`Report` values in WGS-84 and SI units, so the engine never needs to know
where a position came from beyond the source name, its kind and its error estimate.
"""

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import NamedTuple

NO_ATTRIBUTES: Mapping[str, str] = MappingProxyType({})
"""The shared, immutable empty attribute map (a NamedTuple default must not be mutable)."""


class Domain(StrEnum):
    """Where the object moves: picks the motion model, the deletion silence and the CoT type."""

    AIR = "air"
    SEA = "sea"
    GROUND = "ground"


class Report(NamedTuple):
    """One observation of one object by one source (an ADS-B message, an AIS position, an APRS
    packet, a PLI …), already decoded to WGS84 and SI units."""

    source: str
    """Feed instance name from the settings, e.g. ``"adsb-north"``."""
    kind: str
    """``"adsb" | "ais" | "aprs" | "cot" | "geojson" | "sim"``."""
    identity: str | None
    """Namespaced: ``"icao:3c6444"``, ``"mmsi:227006760"``, ``"aprs:N0CALL-9"``, ``"uid:ANDROID-1"``."""
    time_ms: int
    """When the object was observed (source time if known)."""
    received_ms: int
    """When we got it."""
    lat: float
    lon: float
    hae: float | None
    """Metres above the WGS-84 ellipsoid, ``None`` if unknown."""
    course: float | None
    """Degrees true."""
    speed: float | None
    """Metres per second."""
    sigma_m: float
    """1-sigma horizontal position error estimate of this source, metres."""
    domain: Domain
    callsign: str | None = None
    attributes: Mapping[str, str] = NO_ATTRIBUTES
    """Source-specific extras: squawk, ship name, …"""
    climb: float | None = None
    """Vertical rate, m/s, positive up (ADS-B ``geom_rate``/``baro_rate``), ``None`` if unknown."""

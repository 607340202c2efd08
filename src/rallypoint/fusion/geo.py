"""WGS-84 geodetic coordinates and local East-North-Up frames.

Each track filters in its own tangent plane anchored near the object, where a constant
velocity is a straight line and distances are metres. Conversions are exact (no flat-earth
approximation) and use ``math`` on floats: for one point at a time that is several times
faster than numpy, and the engine converts one point per report. ``to_enu`` is the ECEF
route with the origin's terms cancelled in closed form (the east axis is the origin's
parallel, so only the longitude difference matters), which saves the per-point ECEF
round trip on the engine's hot path.
"""

import math
from math import cos, sin, sqrt
from typing import NamedTuple

WGS84_A = 6378137.0
"""Semi-major axis, metres."""
WGS84_F = 1.0 / 298.257223563
WGS84_E2 = WGS84_F * (2.0 - WGS84_F)
"""First eccentricity squared."""
_B = WGS84_A * (1.0 - WGS84_F)
_EP2 = WGS84_E2 / (1.0 - WGS84_E2)
_ONE_MINUS_E2 = 1.0 - WGS84_E2
_RADIANS = math.pi / 180.0
"""The factor ``math.radians`` multiplies by (the same double, so results are identical)."""


class Ecef(NamedTuple):
    """Earth-centred, Earth-fixed coordinates in metres."""

    x: float
    y: float
    z: float


def to_ecef(lat: float, lon: float, hae: float = 0.0) -> Ecef:
    """Geodetic degrees and height above the ellipsoid to ECEF."""
    phi, lam = math.radians(lat), math.radians(lon)
    sin_phi, cos_phi = math.sin(phi), math.cos(phi)
    n = WGS84_A / math.sqrt(1.0 - WGS84_E2 * sin_phi * sin_phi)
    return Ecef(
        (n + hae) * cos_phi * math.cos(lam),
        (n + hae) * cos_phi * math.sin(lam),
        (n * (1.0 - WGS84_E2) + hae) * sin_phi,
    )


def from_ecef(point: Ecef) -> tuple[float, float, float]:
    """ECEF to geodetic ``(lat, lon, hae)`` by Bowring's method (sub-millimetre near the surface)."""
    x, y, z = point
    p = math.hypot(x, y)
    theta = math.atan2(z * WGS84_A, p * _B)
    sin_t, cos_t = math.sin(theta), math.cos(theta)
    phi = math.atan2(z + _EP2 * _B * sin_t**3, p - WGS84_E2 * WGS84_A * cos_t**3)
    sin_phi = math.sin(phi)
    n = WGS84_A / math.sqrt(1.0 - WGS84_E2 * sin_phi * sin_phi)
    cos_phi = math.cos(phi)
    hae = p / cos_phi - n if abs(cos_phi) > 1e-12 else abs(z) - _B
    return math.degrees(phi), math.degrees(math.atan2(y, x)), hae


class LocalFrame:
    """A tangent plane at an origin: ``to_enu`` and ``to_geodetic`` are inverse to each other."""

    __slots__ = ("_cos_lat", "_lam", "_north0", "_origin", "_rot", "_sin_lat", "_up0", "lat", "lon")

    def __init__(self, lat: float, lon: float) -> None:
        self.lat = lat
        self.lon = lon
        self._origin = to_ecef(lat, lon, 0.0)
        phi, lam = math.radians(lat), math.radians(lon)
        sp, cp, sl, cl = math.sin(phi), math.cos(phi), math.sin(lam), math.cos(lam)
        self._rot = (-sl, cl, 0.0, -sp * cl, -sp * sl, cp, cp * cl, cp * sl, sp)
        """Rows of the ECEF→ENU rotation: east, north, up."""
        self._sin_lat, self._cos_lat, self._lam = sp, cp, lam
        n0 = WGS84_A / math.sqrt(1.0 - WGS84_E2 * sp * sp)
        self._north0 = n0 * WGS84_E2 * sp * cp
        """The origin's own terms of ``north``: its ECEF point rotated, in closed form."""
        self._up0 = n0 * (1.0 - WGS84_E2 * sp * sp)

    def to_enu(self, lat: float, lon: float, hae: float = 0.0) -> tuple[float, float, float]:
        """Geodetic degrees to metres east, north and up of the origin.

        The rotated ECEF difference, multiplied out: with ``h = (N + hae) cos φ`` the point's
        distance from the polar axis and ``v = (N (1 - e²) + hae) sin φ`` its height above the
        equatorial plane, east is ``h sin Δλ`` and north and up mix ``h cos Δλ`` and ``v``.
        """
        phi = lat * _RADIANS
        sp, cp = sin(phi), cos(phi)
        n = WGS84_A / sqrt(1.0 - WGS84_E2 * sp * sp)
        h = (n + hae) * cp
        v = (n * _ONE_MINUS_E2 + hae) * sp
        dlam = lon * _RADIANS - self._lam
        hc = h * cos(dlam)
        s0, c0 = self._sin_lat, self._cos_lat
        return h * sin(dlam), c0 * v - s0 * hc + self._north0, c0 * hc + s0 * v - self._up0

    def to_geodetic(self, east: float, north: float, up: float = 0.0) -> tuple[float, float, float]:
        """Metres east, north and up of the origin to geodetic ``(lat, lon, hae)``."""
        r, o = self._rot, self._origin
        return from_ecef(
            Ecef(
                o.x + r[0] * east + r[3] * north + r[6] * up,
                o.y + r[1] * east + r[4] * north + r[7] * up,
                o.z + r[5] * north + r[8] * up,
            )
        )

    def velocity_in(self, target: "LocalFrame", east: float, north: float) -> tuple[float, float]:
        """A horizontal vector in this frame's axes, expressed in ``target``'s (their norths differ)."""
        s, t = self._rot, target._rot
        x = east * s[0] + north * s[3]
        y = east * s[1] + north * s[4]
        z = north * s[5]
        return t[0] * x + t[1] * y, t[3] * x + t[4] * y + t[5] * z


def velocity_from_course(course: float, speed: float) -> tuple[float, float]:
    """Course (degrees true) and speed (m/s) to east and north velocity (m/s)."""
    rad = math.radians(course)
    return speed * math.sin(rad), speed * math.cos(rad)


def course_from_velocity(east: float, north: float) -> tuple[float, float]:
    """East and north velocity (m/s) to course (degrees true, 0 ≤ c < 360) and speed (m/s)."""
    course = math.degrees(math.atan2(east, north)) % 360.0
    return course, math.hypot(east, north)

"""ADS-B from readsb/dump1090: the ``aircraft.json`` document and SBS-1 (BaseStation) lines.

Both decoders are sans-I/O: the caller passes the bytes or line and the time they arrived.
Identities are ``icao:<24-bit address in lower-case hex>``; TIS-B and other non-ICAO
addresses (readsb writes them with a leading ``~``) get ``adsb:<hex>`` so they never merge
with a real airframe by identity.
"""

import json
import math
from types import MappingProxyType
from typing import Any, NamedTuple

from rallypoint.fusion.feeds.bounded import BoundedMap
from rallypoint.fusion.feeds.config import FeedConfig
from rallypoint.fusion.feeds.decoded import NOTHING, Decoded, error, ignored, one
from rallypoint.fusion.feeds.units import course, feet, knots, valid_position
from rallypoint.fusion.report import Domain, Report

MAX_JSON_BYTES = 16 * 1024 * 1024
"""An aircraft.json with 2 000 aircraft is about 1.5 MB; more than 16 MB is not readsb."""
MAX_POSITION_AGE_S = 60.0
"""readsb keeps an aircraft in the file for a while after its last position: older is not news."""
NACP_EPU_M = {11: 3.0, 10: 10.0, 9: 30.0, 8: 92.6, 7: 185.2, 6: 555.6, 5: 926.0, 4: 1852.0}
"""Estimated position uncertainty (95 % bound) per NACp category, DO-260B."""
EPU_TO_SIGMA = 2.45
"""A 95 % horizontal bound is about 2.45 standard deviations of a circular normal error."""
SAME_FIX_MS = 200
"""Two polls showing one position at times this close are one fix: readsb writes ``now`` and
``seen_pos`` with 0.1 s resolution, so one fix seen in two polls can land up to 0.2 s apart.
A new position message comes at least 0.4 s after the last (ADS-B sends two a second)."""


def nacp_sigma(feed_sigma_m: float, nac_p: Any) -> float:
    """The feed's sigma, widened when the aircraft itself reports a worse NACp."""
    epu = NACP_EPU_M.get(nac_p) if isinstance(nac_p, int) else None
    return feed_sigma_m if epu is None else max(feed_sigma_m, epu / EPU_TO_SIGMA)


def identity_of(hex_address: str) -> str | None:
    """``icao:3c6444`` for a 24-bit address, ``adsb:<hex>`` for non-ICAO ones, None if invalid."""
    text = hex_address.strip().lower()
    namespace = "adsb" if text.startswith("~") else "icao"
    digits = text.lstrip("~")
    if len(digits) != 6 or any(c not in "0123456789abcdef" for c in digits):
        return None
    return f"{namespace}:{digits}"


class AircraftJsonDecoder:
    """Decode one ``aircraft.json`` snapshot; only positions newer than the last one are reported.

    readsb rewrites the file every second with every aircraft it has heard in the last
    minute, so the same position appears in many polls: the decoder remembers each
    aircraft's last position time and reports only fresh ones.
    """

    def __init__(self, feed: FeedConfig) -> None:
        self.feed = feed
        self._last: BoundedMap[str, tuple[int, float, float]] = BoundedMap()
        """Identity → time, latitude and longitude of its newest reported fix."""

    def decode(self, data: bytes, received_ms: int) -> Decoded:
        """Every fresh aircraft position in the document, errors per bad aircraft entry."""
        if len(data) > MAX_JSON_BYTES:
            return error("too_large")
        try:
            document = json.loads(data)
        except (ValueError, UnicodeDecodeError):
            return error("bad_json")
        if not isinstance(document, dict) or not isinstance(document.get("aircraft"), list):
            return error("no_aircraft_list")
        now = document.get("now")
        now_ms = round(now * 1000) if isinstance(now, int | float) and math.isfinite(now) else received_ms
        reports: list[Report] = []
        errors: list[str] = []
        skipped: list[str] = []
        for entry in document["aircraft"]:
            result = self._aircraft(entry, now_ms, received_ms)
            reports.extend(result.reports)
            errors.extend(result.errors)
            skipped.extend(result.ignored)
        return Decoded(tuple(reports), tuple(errors), tuple(skipped))

    def _aircraft(self, entry: Any, now_ms: int, received_ms: int) -> Decoded:
        if not isinstance(entry, dict) or not isinstance(entry.get("hex"), str):
            return error("bad_aircraft")
        identity = identity_of(entry["hex"])
        if identity is None:
            return error("bad_hex")
        lat, lon = entry.get("lat"), entry.get("lon")
        if lat is None or lon is None:
            return ignored("no_position")
        if not _numbers(lat, lon) or not valid_position(lat, lon):
            return error("bad_position")
        seen_pos = entry.get("seen_pos", 0.0)
        if not _numbers(seen_pos) or seen_pos > MAX_POSITION_AGE_S:
            return ignored("old_position")
        # Rounded, not truncated: int() turns 0.3 s into 299 ms, so one fix read in two polls
        # got two times a millisecond apart and was fused twice.
        time_ms = now_ms - round(seen_pos * 1000)
        last = self._last.get(identity)
        if last is not None and (
            time_ms <= last[0] or (time_ms - last[0] <= SAME_FIX_MS and (lat, lon) == last[1:])
        ):
            return NOTHING
        self._last.put(identity, (time_ms, lat, lon))
        return one(self._report(entry, identity, time_ms, received_ms, position=(lat, lon)))

    def _report(
        self,
        entry: dict[str, Any],
        identity: str,
        time_ms: int,
        received_ms: int,
        *,
        position: tuple[Any, ...],
    ) -> Report:
        lat, lon = position
        # alt_geom is GNSS height above the WGS-84 ellipsoid; barometric altitude is the fallback.
        altitude = _number(entry.get("alt_geom", entry.get("alt_baro", entry.get("altitude"))))
        speed = _number(entry.get("gs", entry.get("speed")))
        track = _number(entry.get("track"))
        # geom_rate pairs with alt_geom; baro_rate (or dump1090's vert_rate) is the fallback: ft/min
        rate = _number(entry.get("geom_rate", entry.get("baro_rate", entry.get("vert_rate"))))
        callsign = str(entry.get("flight", "")).strip() or None
        attributes = {
            key: str(entry[key]) for key in ("squawk", "category", "type") if isinstance(entry.get(key), str)
        }
        return Report(
            source=self.feed.name,
            kind="adsb",
            identity=identity,
            time_ms=time_ms,
            received_ms=received_ms,
            lat=float(lat),
            lon=float(lon),
            hae=feet(altitude) if altitude is not None else None,
            course=course(track) if track is not None else None,
            speed=knots(speed) if speed is not None else None,
            sigma_m=nacp_sigma(self.feed.sigma_m, entry.get("nac_p")),
            domain=Domain.AIR,
            callsign=callsign,
            attributes=MappingProxyType(attributes),
            climb=feet(rate) / 60.0 if rate is not None else None,
        )


def _number(value: Any) -> float | None:
    return float(value) if _numbers(value) else None


def _numbers(*values: Any) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in values)


class _Aircraft(NamedTuple):
    callsign: str | None = None
    speed: float | None = None
    course: float | None = None
    squawk: str | None = None
    climb: float | None = None
    """Vertical rate, m/s (SBS field 17, ``VerticalRate``, ft/min, in MSG,4)."""


SBS_FIELDS = 22
"""MSG lines have 22 comma-separated fields (some writers drop trailing empty ones)."""
SBS_MIN_FIELDS = 16
_POSITION_TYPES = {"2", "3"}
"""MSG,2 is a surface position, MSG,3 an airborne one; the others carry no position."""


class SbsDecoder:
    """Decode SBS-1 ``MSG`` lines; identification (MSG,1) and velocity (MSG,4: ground speed,
    track and vertical rate) are merged into the next position of the same aircraft, so the
    3-D model gets the vertical rate as it does from ``geom_rate``/``baro_rate`` in JSON.

    The timestamps in SBS-1 lines are the receiver's local time with no zone, so the time
    each line arrived is used as the observation time.
    """

    def __init__(self, feed: FeedConfig) -> None:
        self.feed = feed
        self._aircraft: BoundedMap[str, _Aircraft] = BoundedMap()

    def decode(self, line: str, received_ms: int) -> Decoded:
        """One line of the TCP 30003 stream."""
        fields = line.strip().split(",")
        if fields == [""]:
            return NOTHING
        if fields[0] != "MSG" or len(fields) < SBS_MIN_FIELDS or len(fields) > SBS_FIELDS:
            return error("bad_sbs_line") if fields[0] not in {"SEL", "ID", "AIR", "STA", "CLK"} else NOTHING
        identity = identity_of(fields[4])
        if identity is None:
            return error("bad_hex")
        known = self._aircraft.get(identity) or _Aircraft()
        try:
            known = self._merge(known, fields)
        except ValueError:
            return error("bad_number")
        self._aircraft.put(identity, known)
        if fields[1] not in _POSITION_TYPES:
            return ignored("no_position")
        try:
            lat, lon = float(fields[14]), float(fields[15])
            altitude = float(fields[11]) if fields[11] else None
        except ValueError:
            return error("bad_position")
        if not valid_position(lat, lon):
            return error("bad_position")
        attributes = {"squawk": known.squawk} if known.squawk else {}
        return one(
            Report(
                source=self.feed.name,
                kind="adsb",
                identity=identity,
                time_ms=received_ms,
                received_ms=received_ms,
                lat=lat,
                lon=lon,
                hae=feet(altitude) if altitude is not None else None,
                course=known.course,
                speed=known.speed,
                sigma_m=self.feed.sigma_m,
                domain=Domain.AIR,
                callsign=known.callsign,
                attributes=MappingProxyType(attributes),
                climb=known.climb,
            )
        )

    @staticmethod
    def _merge(known: _Aircraft, fields: list[str]) -> _Aircraft:
        callsign = fields[10].strip() or known.callsign
        speed = knots(float(fields[12])) if fields[12] else known.speed
        track = course(float(fields[13])) if fields[13] else known.course
        squawk = fields[17].strip() if len(fields) > 17 and fields[17].strip() else known.squawk
        climb = feet(float(fields[16])) / 60.0 if len(fields) > 16 and fields[16].strip() else known.climb
        return _Aircraft(callsign, speed, track, squawk, climb)

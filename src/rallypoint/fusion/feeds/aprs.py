"""APRS-IS text lines (``N0CALL-9>APRS,TCPIP*:=3700.00N/12200.00W>090/025``), via aprslib.

Stations are identified as ``aprs:<callsign-ssid>``; objects and items as
``aprs:<object name>`` (they name the thing, not the station that placed it). Lines
starting with ``#`` are server comments and keep-alives. APRS-IS forwards packets as they
are heard, and embedded timestamps are often wrong, so the arrival time is the
observation time.
"""

from types import MappingProxyType
from typing import Any

import aprslib  # type: ignore[import-untyped]
from aprslib.exceptions import ParseError, UnknownFormat  # type: ignore[import-untyped]

from rallypoint.fusion.feeds.config import FeedConfig
from rallypoint.fusion.feeds.decoded import NOTHING, Decoded, error, ignored, one
from rallypoint.fusion.feeds.units import KMH_MS, course, valid_position
from rallypoint.fusion.report import Domain, Report

APRS_VERSION = "rallypoint 0.1"
AIR_SYMBOLS = frozenset({"/'", "/^", "/X", "/g", "\\^"})
"""Small aircraft, large aircraft, helicopter, glider, and the alternate-table aircraft."""
SEA_SYMBOLS = frozenset({"/s", "/Y", "/C", "\\s", "\\N"})
"""Ship, yacht, canoe, ship (alternate), navigation buoy."""
AMBIGUITY_SIGMA_M = (0.0, 1852.0 / 60 / 10 * 0.3, 1852.0 / 60 * 0.3, 1852.0 / 6 * 0.3, 1852.0 * 0.3)
"""Extra 1-sigma for position ambiguity 0-4 (each level blanks one more digit of minutes)."""


def login_line(user: str, aprs_filter: str = "") -> bytes:
    """The receive-only APRS-IS login (pass code -1), with an optional server-side filter."""
    line = f"user {user} pass -1 vers {APRS_VERSION}"
    if aprs_filter:
        line += f" filter {aprs_filter}"
    return (line + "\r\n").encode("ascii", "replace")


def domain_of(symbol_table: str, symbol: str) -> Domain:
    """Air, sea or ground from the APRS symbol (most stations are people, cars and houses)."""
    code = f"{symbol_table[:1]}{symbol}"
    if code in AIR_SYMBOLS:
        return Domain.AIR
    if code in SEA_SYMBOLS:
        return Domain.SEA
    return Domain.GROUND


class AprsDecoder:
    """One APRS-IS line in, at most one position report out."""

    def __init__(self, feed: FeedConfig) -> None:
        self.feed = feed

    def decode(self, line: str, received_ms: int) -> Decoded:
        """Decode one line; comments and position-less packets are ignored, broken ones counted."""
        text = line.strip()
        if not text or text.startswith("#"):
            return NOTHING
        try:
            packet: dict[str, Any] = aprslib.parse(text)
        except UnknownFormat:
            return ignored("unknown_format")
        except (ParseError, ValueError, UnicodeError, IndexError):
            return error("bad_packet")
        lat, lon = packet.get("latitude"), packet.get("longitude")
        if lat is None or lon is None:
            return ignored("no_position")
        numeric = isinstance(lat, int | float) and isinstance(lon, int | float)
        if not numeric or not valid_position(lat, lon):
            return error("bad_position")
        name = str(packet.get("object_name") or packet.get("item_name") or "").strip()
        sender = str(packet.get("from", "")).strip()
        if not sender:
            return error("bad_packet")
        if packet.get("alive") is False:
            return ignored("object_killed")
        return one(self._report(packet, name or sender, sender, (float(lat), float(lon)), received_ms))

    def _report(
        self, packet: dict[str, Any], name: str, sender: str, position: tuple[float, float], received_ms: int
    ) -> Report:
        lat, lon = position
        speed, track, altitude = packet.get("speed"), packet.get("course"), packet.get("altitude")
        ambiguity = packet.get("posambiguity", 0)
        extra = AMBIGUITY_SIGMA_M[ambiguity] if isinstance(ambiguity, int) and 0 <= ambiguity <= 4 else 0.0
        attributes = {"symbol": f"{packet.get('symbol_table', '')}{packet.get('symbol', '')}"}
        if name != sender:
            attributes["placed_by"] = sender
        comment = str(packet.get("comment", "")).strip()
        if comment:
            attributes["comment"] = comment[:200]
        return Report(
            source=self.feed.name,
            kind="aprs",
            identity=f"aprs:{name.upper()}",
            time_ms=received_ms,
            received_ms=received_ms,
            lat=lat,
            lon=lon,
            hae=float(altitude) if isinstance(altitude, int | float) else None,
            course=course(track) if isinstance(track, int | float) and track > 0 else None,
            speed=speed * KMH_MS if isinstance(speed, int | float) else None,
            sigma_m=max(self.feed.sigma_m, extra),
            domain=domain_of(str(packet.get("symbol_table", "/")), str(packet.get("symbol", ""))),
            callsign=name,
            attributes=MappingProxyType(attributes),
        )

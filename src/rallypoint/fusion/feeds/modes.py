"""Raw Mode S / ADS-B frames in AVR text form (``*8D4840D6202CC371C32CE0576098;``), via pyModeS.

dump1090 and readsb serve these on TCP 30002; ``@`` lines carry a 12-digit MLAT clock before
the frame. Only DF17/18 extended squitter is used: identification (callsign), airborne
velocity and airborne position. Positions need either a receiver reference (single-frame
local decoding, within 180 NM) or, without one, pyModeS's streaming decoder, which pairs
even and odd frames and holds the first fixes until three agree.
"""

from types import MappingProxyType
from typing import Any, NamedTuple

import pyModeS

from rallypoint.fusion.feeds.adsb import identity_of
from rallypoint.fusion.feeds.bounded import BoundedMap
from rallypoint.fusion.feeds.config import FeedConfig
from rallypoint.fusion.feeds.decoded import NOTHING, Decoded, error, ignored, one
from rallypoint.fusion.feeds.units import course, feet, knots, valid_position
from rallypoint.fusion.report import Domain, Report

EXTENDED_SQUITTER = frozenset({17, 18})
MLAT_CLOCK_DIGITS = 12
"""``@`` frames start with a 48-bit receiver clock."""
FRAME_DIGITS = frozenset({14, 28})
"""56-bit and 112-bit frames."""


class _State(NamedTuple):
    callsign: str | None = None
    speed: float | None = None
    course: float | None = None


def frame_hex(line: str) -> str | None:
    """The hex frame of an AVR line (``*...;`` or ``@<clock>...;``), or None if it is not one."""
    text = line.strip()
    if len(text) < 3 or text[0] not in "*@" or not text.endswith(";"):
        return None
    body = text[1:-1]
    if text[0] == "@":
        body = body[MLAT_CLOCK_DIGITS:]
    if len(body) not in FRAME_DIGITS:
        return None
    try:
        int(body, 16)
    except ValueError:
        return None
    return body.upper()


class AvrDecoder:
    """Decode AVR lines into aircraft positions, merging callsign and velocity per aircraft."""

    def __init__(self, feed: FeedConfig) -> None:
        self.feed = feed
        self._state: BoundedMap[str, _State] = BoundedMap()
        self._pipe = pyModeS.PipeDecoder() if feed.reference is None else None

    def decode(self, line: str, received_ms: int) -> Decoded:
        """One line of the raw stream."""
        if not line.strip():
            return NOTHING
        frame = frame_hex(line)
        if frame is None:
            return error("bad_frame")
        if len(frame) == 14:
            return ignored("short_frame")
        result = self._decode_frame(frame, received_ms)
        if "error" in result:
            return error("bad_frame")
        if result.get("df") not in EXTENDED_SQUITTER:
            return ignored("not_extended_squitter")
        if not result.get("crc_valid", False):
            return error("crc")
        identity = identity_of(str(result.get("icao", "")))
        if identity is None:
            return error("bad_hex")
        return self._apply(identity, result, received_ms)

    def _decode_frame(self, frame: str, received_ms: int) -> dict[str, Any]:
        try:
            if self._pipe is not None:
                return dict(self._pipe.decode(frame, timestamp=received_ms / 1000.0))
            return dict(pyModeS.decode(frame, reference=self.feed.reference))
        except (pyModeS.DecodeError, ValueError):
            return {"error": "undecodable"}

    def _apply(self, identity: str, result: dict[str, Any], received_ms: int) -> Decoded:
        state = self._state.get(identity) or _State()
        callsign = str(result.get("callsign") or "").strip("_ ") or state.callsign
        speed = knots(result["groundspeed"]) if result.get("groundspeed") is not None else state.speed
        track = course(result["track"]) if result.get("track") is not None else state.course
        state = _State(callsign, speed, track)
        self._state.put(identity, state)
        lat, lon = result.get("latitude"), result.get("longitude")
        if lat is None or lon is None:
            return ignored("no_position")
        if not valid_position(lat, lon):
            return error("bad_position")
        altitude = result.get("altitude")
        return one(
            Report(
                source=self.feed.name,
                kind="adsb",
                identity=identity,
                time_ms=received_ms,
                received_ms=received_ms,
                lat=float(lat),
                lon=float(lon),
                hae=feet(altitude) if isinstance(altitude, int | float) else None,
                course=state.course,
                speed=state.speed,
                sigma_m=self.feed.sigma_m,
                domain=Domain.AIR,
                callsign=state.callsign,
                attributes=MappingProxyType({}),
            )
        )

"""AIS from NMEA 0183 ``!AIVDM``/``!AIVDO`` sentences, decoded with pyais.

Messages longer than one sentence (type 5 static data, for instance) arrive as fragments
``!AIVDM,2,1,3,...`` and ``!AIVDM,2,2,3,...`` that may interleave with other messages and,
over UDP, arrive out of order or not at all. :class:`AisDecoder` reassembles them in a
buffer bounded in size (:data:`MAX_PENDING_MESSAGES`) and age (:data:`REASSEMBLY_TIMEOUT_MS`);
a message whose fragments do not all arrive is counted (``incomplete``) and dropped.
"""

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, NamedTuple

from pyais import NMEAMessage
from pyais.exceptions import AISBaseException

from rallypoint.fusion.feeds.bounded import BoundedMap
from rallypoint.fusion.feeds.config import FeedConfig
from rallypoint.fusion.feeds.decoded import NOTHING, Decoded, error, ignored, one
from rallypoint.fusion.feeds.units import course, knots, valid_position
from rallypoint.fusion.report import Domain, Report

MAX_PENDING_MESSAGES = 64
"""Multi-sentence messages being reassembled at once; a receiver interleaves at most a few."""
REASSEMBLY_TIMEOUT_MS = 5_000
"""Fragments of one message follow each other within milliseconds; 5 s covers any jitter."""
MAX_FRAGMENTS = 9
"""The NMEA fragment count is one digit."""
LOW_ACCURACY_SIGMA_M = 20.0
"""The position accuracy flag clear means worse than 10 m (95 %)."""
CLASS_A_B_POSITIONS = frozenset({1, 2, 3, 18, 19, 27})
SAR_AIRCRAFT = 9
AID_TO_NAVIGATION = 21
STATIC_TYPES = frozenset({5, 24})
SPEED_UNKNOWN_KNOTS = 102.3
SAR_SPEED_UNKNOWN_KNOTS = 1023
SAR_ALTITUDE_UNKNOWN_M = 4095
SECONDS_UNKNOWN = 60
"""The UTC-second field of a position report: 60 and above mean "not available"."""


@dataclass
class _Pending:
    first_ms: int
    count: int
    parts: dict[int, NMEAMessage] = field(default_factory=dict)


class _Static(NamedTuple):
    name: str | None = None
    callsign: str | None = None
    ship_type: str | None = None


def split_tag_block(line: str) -> tuple[str, int | None]:
    """``\\c:1671620143*0B\\!AIVDM,...`` -> (the sentence, the tag block's time in ms, if any)."""
    if not line.startswith("\\"):
        return line, None
    end = line.find("\\", 1)
    if end < 0:
        return line, None
    tags = line[1:end].split("*", 1)[0]
    time_ms = None
    for tag in tags.split(","):
        key, _, value = tag.partition(":")
        if key == "c" and value.isdigit():
            number = int(value)
            time_ms = number if number > 10**11 else number * 1000
    return line[end + 1 :], time_ms


def report_time_ms(received_ms: int, second: Any) -> int:
    """The report's time from its UTC-second field: the latest such second not after arrival."""
    if not isinstance(second, int) or not 0 <= second < SECONDS_UNKNOWN:
        return received_ms
    candidate = received_ms - received_ms % 60_000 + second * 1000
    return candidate - 60_000 if candidate > received_ms + 1000 else candidate


class AisDecoder:
    """Sentences in (time passed in), vessel positions out; static names merged in per MMSI."""

    def __init__(
        self,
        feed: FeedConfig,
        *,
        max_pending: int = MAX_PENDING_MESSAGES,
        timeout_ms: int = REASSEMBLY_TIMEOUT_MS,
    ) -> None:
        self.feed = feed
        self.max_pending = max_pending
        self.timeout_ms = timeout_ms
        self._pending: dict[tuple[int | None, str, int], _Pending] = {}
        self._static: BoundedMap[int, _Static] = BoundedMap()

    @property
    def pending(self) -> int:
        """Messages with fragments still missing."""
        return len(self._pending)

    def expire(self, now_ms: int) -> Decoded:
        """Drop messages whose fragments stopped coming; one ``incomplete`` error each."""
        old = [key for key, group in self._pending.items() if now_ms - group.first_ms > self.timeout_ms]
        for key in old:
            del self._pending[key]
        return Decoded(errors=("incomplete",) * len(old))

    def decode(self, line: str, received_ms: int) -> Decoded:
        """One sentence (with or without a tag block)."""
        expired = self.expire(received_ms)
        result = self._sentence(line.strip(), received_ms)
        if not expired.errors:
            return result
        return Decoded(result.reports, expired.errors + result.errors, result.ignored)

    def _sentence(self, line: str, received_ms: int) -> Decoded:
        if not line:
            return NOTHING
        sentence, tag_ms = split_tag_block(line)
        if not sentence.startswith("!") or sentence[3:6] not in {"VDM", "VDO"}:
            return error("not_ais")
        try:
            message = NMEAMessage(sentence.encode("ascii"))
        except (AISBaseException, UnicodeEncodeError, ValueError):
            return error("bad_sentence")
        if not message.is_valid:
            return error("checksum")
        if not 1 <= message.frag_num <= message.frag_cnt <= MAX_FRAGMENTS:
            return error("bad_fragment")
        base_ms = tag_ms if tag_ms is not None else received_ms
        if message.frag_cnt == 1:
            return self._decode([message], base_ms, received_ms)
        return self._reassemble(message, base_ms, received_ms)

    def _reassemble(self, message: NMEAMessage, base_ms: int, received_ms: int) -> Decoded:
        key = (message.seq_id, str(message.channel), message.frag_cnt)
        errors: tuple[str, ...] = ()
        group = self._pending.get(key)
        if group is not None and message.frag_num in group.parts:
            del self._pending[key]  # the sequence id was reused: the earlier message lost a fragment
            group, errors = None, ("incomplete",)
        if group is None:
            if len(self._pending) >= self.max_pending:
                oldest = min(self._pending, key=lambda k: self._pending[k].first_ms)
                del self._pending[oldest]
                errors += ("reassembly_overflow",)
            group = self._pending[key] = _Pending(received_ms, message.frag_cnt)
        group.parts[message.frag_num] = message
        if len(group.parts) < group.count:
            return Decoded(errors=errors)
        del self._pending[key]
        result = self._decode([group.parts[n] for n in range(1, group.count + 1)], base_ms, received_ms)
        return Decoded(result.reports, errors + result.errors, result.ignored)

    def _decode(self, parts: list[NMEAMessage], base_ms: int, received_ms: int) -> Decoded:
        try:
            message = NMEAMessage.assemble_from_iterable(parts) if len(parts) > 1 else parts[0]
            fields: dict[str, Any] = message.decode().asdict()
        except (AISBaseException, ValueError, IndexError, KeyError):
            return error("undecodable")
        msg_type, mmsi = fields.get("msg_type"), fields.get("mmsi")
        if not isinstance(msg_type, int):
            return error("undecodable")
        if not isinstance(mmsi, int) or mmsi <= 0:
            return error("bad_mmsi")
        if msg_type in STATIC_TYPES:
            self._remember(mmsi, fields)
            return ignored("static")
        if msg_type in CLASS_A_B_POSITIONS or msg_type in {SAR_AIRCRAFT, AID_TO_NAVIGATION}:
            return self._position(msg_type, mmsi, fields, base_ms, received_ms)
        return ignored(f"type_{msg_type}")

    def _remember(self, mmsi: int, fields: dict[str, Any]) -> None:
        known = self._static.get(mmsi) or _Static()
        name = _text(fields.get("shipname")) or known.name
        callsign = _text(fields.get("callsign")) or known.callsign
        ship_type = fields.get("ship_type")
        kind = getattr(ship_type, "name", None) or known.ship_type
        self._static.put(mmsi, _Static(name, callsign, kind))

    def _position(
        self, msg_type: int, mmsi: int, fields: dict[str, Any], base_ms: int, received_ms: int
    ) -> Decoded:
        lat, lon = fields.get("lat"), fields.get("lon")
        if not isinstance(lat, int | float) or not isinstance(lon, int | float):
            return error("bad_position")
        if not valid_position(lat, lon):
            return ignored("position_unavailable")
        if msg_type == AID_TO_NAVIGATION:
            self._remember(mmsi, {"shipname": fields.get("name")})
        speed_raw = fields.get("speed")
        unknown_speed = SAR_SPEED_UNKNOWN_KNOTS if msg_type == SAR_AIRCRAFT else SPEED_UNKNOWN_KNOTS
        speed = knots(speed_raw) if isinstance(speed_raw, int | float) and speed_raw < unknown_speed else None
        course_raw = fields.get("course")
        heading = course(course_raw) if isinstance(course_raw, int | float) and course_raw < 360 else None
        altitude = fields.get("alt") if msg_type == SAR_AIRCRAFT else None
        static = self._static.get(mmsi) or _Static()
        attributes = {"mmsi": str(mmsi), "msg_type": str(msg_type)}
        if static.ship_type:
            attributes["ship_type"] = static.ship_type
        if static.callsign:
            attributes["radio_callsign"] = static.callsign
        sigma = self.feed.sigma_m if fields.get("accuracy") else max(self.feed.sigma_m, LOW_ACCURACY_SIGMA_M)
        return one(
            Report(
                source=self.feed.name,
                kind="ais",
                identity=f"mmsi:{mmsi}",
                time_ms=report_time_ms(base_ms, fields.get("second")),
                received_ms=received_ms,
                lat=float(lat),
                lon=float(lon),
                hae=float(altitude)
                if isinstance(altitude, int) and altitude < SAR_ALTITUDE_UNKNOWN_M
                else None,
                course=heading,
                speed=speed,
                sigma_m=sigma,
                domain=Domain.AIR if msg_type == SAR_AIRCRAFT else Domain.SEA,
                callsign=static.name or static.callsign,
                attributes=MappingProxyType(attributes),
            )
        )


def _text(value: Any) -> str | None:
    """An AIS text field without its ``@`` padding and blanks, or None when empty."""
    if not isinstance(value, str):
        return None
    cleaned = value.replace("@", "").strip()
    return cleaned or None

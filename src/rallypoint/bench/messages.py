"""The bytes the load generator writes: realistic position reports with a send-time hole.

Each sender's position report is encoded once, through the same codecs the server uses,
and kept as the bytes before and after a fixed-width send-time field in ``<remarks>``.
Stamping a message is then one ``%`` format, and a batch is one bytes multiplication, so
the generator spends its time on the socket rather than on encoding. The field has the
same width in XML and in a protobuf ``xmlDetail`` string, so frame lengths never change.
"""

from rallypoint.bench.counting import FENCE_MARKER, STAMP_DIGITS, STAMP_MARKER
from rallypoint.cot.control import protocol_request
from rallypoint.cot.event import Detail, Event, Point
from rallypoint.cot.framing import encode_stream_frame
from rallypoint.cot.negotiation import WireFormat
from rallypoint.cot.protobuf import event_to_proto
from rallypoint.cot.xml import parse_event, serialize_event

PLI_TYPE = "a-f-G-U-C"
PLI_LIFETIME_MS = 3_600_000
"""Stale an hour ahead: the server keeps and forwards every report of the run."""

FENCE_TYPE = "b-x-rpbench"
"""Routed to everyone like any event, but neither cached nor a position report: the server
never replaces or drops it to make room, and it is not replayed to later clients."""
FENCE_LIFETIME_MS = 60_000

_STAMP_PLACEHOLDER = "0" * STAMP_DIGITS


class StampedMessage:
    """Pre-encoded message bytes with a hole for the send time (monotonic ns)."""

    __slots__ = ("_head", "_tail")

    def __init__(self, encoded: bytes) -> None:
        start = encoded.index(STAMP_MARKER) + len(STAMP_MARKER)
        self._head = encoded[:start]
        self._tail = encoded[start + STAMP_DIGITS :]

    def __len__(self) -> int:
        return len(self._head) + STAMP_DIGITS + len(self._tail)

    def render(self, stamp_ns: int) -> bytes:
        """One message carrying ``stamp_ns``."""
        return b"%s%020d%s" % (self._head, stamp_ns, self._tail)

    def render_batch(self, stamp_ns: int, count: int) -> bytes:
        """``count`` copies for one write; they leave together, so they share the stamp."""
        return self.render(stamp_ns) * count


def pli_event(uid: str, callsign: str, now_ms: int) -> Event:
    """A position report shaped like ATAK's: contact with endpoint, group, takv, track, status."""
    detail_xml = (
        f'<contact callsign="{callsign}" endpoint="*:-1:stcp"/>'
        '<__group name="Cyan" role="Team Member"/>'
        '<takv device="rallypoint-bench" platform="Rallypoint" os="Linux" version="1"/>'
        '<track speed="1.5" course="87.2"/>'
        '<status battery="88"/>'
        f"<remarks>{STAMP_MARKER.decode()}{_STAMP_PLACEHOLDER}</remarks>"
    )
    event = Event(
        uid=uid,
        type=PLI_TYPE,
        how="m-g",
        time=now_ms,
        start=now_ms,
        stale=now_ms + PLI_LIFETIME_MS,
        point=Point(lat=59.3293, lon=18.0686, hae=25.0, ce=9.9, le=9999999.0),
        detail=Detail(xml=detail_xml),
    )
    # A round trip through the parser fills in the routing view (contact, group) that the
    # protobuf encoder reads, exactly as it would be for a message the server received.
    return parse_event(serialize_event(event))


def stamped_pli(uid: str, callsign: str, now_ms: int, wire_format: WireFormat) -> StampedMessage:
    """A sender's position report, encoded for ``wire_format``."""
    event = pli_event(uid, callsign, now_ms)
    if wire_format is WireFormat.PROTOBUF:
        return StampedMessage(encode_stream_frame(event_to_proto(event)))
    return StampedMessage(serialize_event(event))


def fence_bytes(uid: str, now_ms: int, wire_format: WireFormat) -> bytes:
    """The message a sender writes after a phase; the server keeps each sender's order."""
    event = Event(
        uid=uid,
        type=FENCE_TYPE,
        how="m-g",
        time=now_ms,
        start=now_ms,
        stale=now_ms + FENCE_LIFETIME_MS,
        point=Point(),
        detail=Detail(xml=f"<remarks>{FENCE_MARKER.decode()}</remarks>"),
    )
    if wire_format is WireFormat.PROTOBUF:
        return encode_stream_frame(event_to_proto(event))
    return serialize_event(event)


def protocol_request_bytes(offer_uid: str, now_ms: int) -> bytes:
    """The ``t-x-takp-q`` asking for TAK protocol v1, answering the offer ``offer_uid``."""
    return serialize_event(protocol_request(offer_uid, now_ms))

"""A routed message, encoded at most once per wire format however many receive it."""

from rallypoint.cot.event import Event
from rallypoint.cot.framing import encode_stream_frame
from rallypoint.cot.negotiation import WireFormat
from rallypoint.cot.protobuf import event_to_proto
from rallypoint.cot.xml import serialize_event, without_marti


class Outbound:
    """One event on its way out, with its encodings cached.

    ``original_xml`` (or ``original_protobuf``) holds the bytes the sender wrote when they
    can be forwarded as they are (nothing to strip): forwarding them saves a conversion
    and keeps the sender's exact encoding.
    """

    __slots__ = (
        "_payload",
        "_protobuf",
        "_xml",
        "directed",
        "event",
        "mail_id",
        "recipients",
        "replace_key",
        "returnable",
    )

    def __init__(
        self,
        event: Event,
        original_xml: bytes | None = None,
        *,
        original_protobuf: bytes | None = None,
        directed: bool = False,
        replace_key: str | None = None,
        returnable: bool = False,
        mail_id: int | None = None,
    ) -> None:
        self.event = event
        self.directed = directed
        """Addressed to named recipients: never dropped to make room in a queue."""
        self.replace_key = replace_key
        """Set for position reports: a newer one with the same key may replace this one."""
        self.returnable = returnable
        """Addressed to its recipient's device (routed with ``marti/dest``, ``send_to``, kept mail):
        if the connection ends before the peer acknowledged it, it goes back to the mailbox."""
        self.mail_id = mail_id
        """The mailbox row it was read from: marked delivered once acknowledged."""
        self.recipients: frozenset[str] = frozenset()
        """For a directed message: the identities (TLS users) it was handed to, for the store."""
        self._xml = original_xml
        self._payload = original_protobuf
        """A ``TakMessage`` payload as the sender wrote it, when it can be forwarded as is."""
        self._protobuf: bytes | None = None

    @property
    def xml(self) -> bytes:
        """The event as CoT XML bytes (``<marti>`` stripped)."""
        if self._xml is None:
            self._xml = serialize_event(self.event, strip_marti=True)
        return self._xml

    @property
    def protobuf(self) -> bytes:
        """The event as one TAK protocol v1 stream frame."""
        if self._protobuf is None:
            payload = self._payload or event_to_proto(without_marti(self.event))
            self._protobuf = encode_stream_frame(payload)
        return self._protobuf

    def encoded(self, wire_format: WireFormat) -> bytes:
        """The bytes to write to a client that speaks ``wire_format``."""
        return self.protobuf if wire_format is WireFormat.PROTOBUF else self.xml

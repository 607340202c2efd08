"""What one stream connection sends, and what becomes of it: encoding, the outbox, acknowledgements.

The connection decides *when* to write (once per loop turn, not while the socket is paused);
this is the rest of the way out. Messages are encoded once per wire format (the router's
:class:`Outbound` caches each form); while the socket is paused they wait in the bounded
:class:`Outbox` under their overflow policy; what was written is tracked until the peer's TCP
stack acknowledges it, so that directed messages a device never received go back to the
mailbox when its connection ends.
"""

import asyncio
import logging
from collections.abc import Callable

from rallypoint.cot import types
from rallypoint.cot.negotiation import WireFormat
from rallypoint.errors import ProtocolError
from rallypoint.router.message import Outbound
from rallypoint.router.registry import Subscriber
from rallypoint.transport.acks import AckTracker
from rallypoint.transport.context import ServerContext
from rallypoint.transport.outbox import Outbox, PutResult
from rallypoint.transport.pings import PingSchedule

log = logging.getLogger(__name__)


class Egress:
    """The sending side of one connection: ``transport`` is set once the connection is made."""

    def __init__(
        self,
        context: ServerContext,
        pings: PingSchedule,
        *,
        on_overflow: Callable[[], None],
        on_acknowledged: Callable[[], None],
    ) -> None:
        self.context = context
        self.pings = pings
        self._on_overflow = on_overflow
        """Close the connection: its outbox overflowed."""
        self._on_acknowledged = on_acknowledged
        """The set of unacknowledged writes may have changed (the connection's timers care)."""
        settings = context.settings
        self.outbox = Outbox(settings.outbox_max_messages, settings.outbox_max_bytes)
        self.acks = AckTracker(None, exact=True)
        self.format = WireFormat.XML
        self.unsent: list[Outbound] = []
        """Returnable messages that arrived after the connection started closing."""
        self.transport: asyncio.Transport | None = None
        self.peer = "?"

    def encode_all(self, messages: list[Outbound]) -> bytes:
        """The messages in this connection's format, one buffer; one that cannot be encoded is left out."""
        wire_format = self.format
        try:
            if wire_format is WireFormat.XML:
                return b"".join([message.xml for message in messages])
            return b"".join([message.protobuf for message in messages])
        except ProtocolError:
            return b"".join(self.encode_or_skip(message) for message in messages)

    def encode_or_skip(self, message: Outbound) -> bytes:
        try:
            return message.encoded(self.format)
        except ProtocolError as exc:  # an event valid as XML that this format cannot carry
            self.context.counters.inc(f"encode_failed{{format={self.format.value}}}")
            log.warning("cannot encode %s for %s: %s", message.event.uid, self.peer, exc)
            return b""

    def park(self, message: Outbound, *, closing: bool) -> None:
        """Queue one message in the bounded outbox, applying its overflow policy."""
        if closing:
            if message.returnable:
                self.unsent.append(message)
            return
        data = self.encode_or_skip(message)
        if not data:
            return
        event_type = message.event.type
        result = self.outbox.put(
            data,
            message.replace_key,
            urgent=types.is_emergency(event_type) or event_type == types.EMERGENCY_CANCEL,
            returnable=message if message.returnable else None,
        )
        if result is PutResult.QUEUED:
            return
        self.context.counters.inc(f"outbox{{result={result.value}}}")
        if result is PutResult.OVERFLOW:
            log.warning(
                "%s disconnected: write queue full (%d messages)", self.peer, self.outbox.queued_messages
            )
            self._on_overflow()
            if message.returnable:
                self.unsent.append(message)

    def write(self, data: bytes, returnable: list[Outbound]) -> None:
        """Hand ``data`` to the socket; ``returnable`` are the messages in it to track."""
        assert self.transport is not None
        self.transport.write(data)
        self.pings.traffic(self.context.clock())
        self.context.counters.inc("bytes_out", len(data))
        self.acks.wrote(len(data), returnable)
        self.confirm()

    def write_outbox(self) -> None:
        """Write everything the outbox holds."""
        self.write(*self.outbox.take_with_returnable())

    def confirm(self) -> None:
        """Tell the mailbox which written messages the peer's TCP stack has acknowledged."""
        if not self.acks or self.transport is None:
            return
        acknowledged = self.acks.acknowledged(self.transport.get_write_buffer_size())
        if acknowledged:
            self.context.mailbox.acknowledged(acknowledged)
        self._on_acknowledged()

    def return_unacknowledged(self, subscriber: Subscriber) -> None:
        """The connection ended: what was directed to it and not acknowledged goes back, in order."""
        if subscriber.uid is None:
            return
        returned = [*self.acks.unacknowledged(), *self.outbox.returnable(), *self.unsent]
        returned += [message for message in subscriber.pending if message.returnable]
        if returned:
            self.context.mailbox.returned(subscriber.uid, returned)

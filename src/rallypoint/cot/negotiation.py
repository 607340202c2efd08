"""TAK protocol negotiation on one streaming connection, as a small state machine.

The server offers version 1 once (``t-x-takp-v``); a client that wants it answers with a
``t-x-takp-q`` request; the server replies ``t-x-takp-r`` and, from the byte after that
reply, writes only protobuf frames. A client that never asks stays on XML. The machine
only decides; the connection sends what it returns and switches its encoder.
"""

from enum import Enum
from typing import NamedTuple

from rallypoint.cot import control, types
from rallypoint.cot.event import Event


class WireFormat(Enum):
    """How messages to one client are encoded."""

    XML = "xml"
    PROTOBUF = "protobuf"


class NegotiationReply(NamedTuple):
    """What the connection must do after a control message."""

    response: Event
    """Send this, in the format in force *before* the switch (XML)."""
    switch_to: WireFormat | None
    """Then encode everything after it in this format, if not None."""


class Negotiator:
    """Tracks one connection's protocol: offered, and XML or protobuf."""

    def __init__(self, offer_uid: str, server_version: str) -> None:
        self.offer_uid = offer_uid
        self.server_version = server_version
        self.format = WireFormat.XML
        self.offered_at: int | None = None

    def offer(self, now_ms: int) -> Event:
        """The ``t-x-takp-v`` event to send after the connection's replay."""
        self.offered_at = now_ms
        return control.protocol_offer(self.offer_uid, now_ms, self.server_version)

    def handle(self, event: Event, now_ms: int) -> NegotiationReply | None:
        """React to a ``t-x-takp-q`` request; any other event gives None."""
        if event.type != types.PROTOCOL_REQUEST:
            return None
        control_detail = event.detail.control if event.detail else None
        requested = control_detail.requested_version if control_detail else None
        accepted = requested == control.PROTOCOL_VERSION and self.format is WireFormat.XML
        already = requested == control.PROTOCOL_VERSION and self.format is WireFormat.PROTOBUF
        response = control.protocol_response(event.uid, now_ms, accepted or already)
        if accepted:
            self.format = WireFormat.PROTOBUF
            return NegotiationReply(response, WireFormat.PROTOBUF)
        return NegotiationReply(response, None)

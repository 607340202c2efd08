"""UDP input (one CoT message per datagram) and the optional multicast SA group.

The first byte of a datagram tells its format (TAK Server does the same): ``0xbf`` is a
TAK protocol v1 mesh message, ``<`` is XML. A bad datagram is counted and dropped; there
is no connection to close.
"""

import asyncio
import logging
import socket
import struct
from typing import cast

from rallypoint.cot.event import Event
from rallypoint.cot.framing import MAGIC, decode_mesh
from rallypoint.cot.protobuf import proto_to_event
from rallypoint.cot.xml import parse_event
from rallypoint.errors import ProtocolError
from rallypoint.router.registry import Subscriber
from rallypoint.transport.context import ServerContext, wall_clock_ms

log = logging.getLogger(__name__)


class DatagramInput(asyncio.DatagramProtocol):
    """Receives CoT datagrams and routes them as coming from one anonymous input."""

    def __init__(self, context: ServerContext, name: str, *, receives: bool = False) -> None:
        self.context = context
        self.name = name
        self.transport: asyncio.DatagramTransport | None = None
        self.destination: tuple[str, int] | None = None
        """Where routed messages are sent (the multicast group), or None for input only."""
        self.own_address: tuple[str, int] | None = None
        """Our sending address: datagrams from it are our own, looped back by the group."""
        self.subscriber = Subscriber(
            self._wake, transport=name, receives=receives, binds=False, now_ms=wall_clock_ms()
        )

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)  # uvloop's do not subclass asyncio's
        self.context.router.attach(self.subscriber, wall_clock_ms())

    def connection_lost(self, exc: Exception | None) -> None:
        self.context.router.detach(self.subscriber, wall_clock_ms())

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        if addr[:2] == self.own_address:
            return
        counters = self.context.counters
        event: Event | None
        original: bytes | None = None
        payload: bytes | None = None
        try:
            if data[:1] == bytes((MAGIC,)):
                payload = decode_mesh(data, self.context.settings.max_event_bytes)
                event = proto_to_event(payload, self.context.xml_limits)
            else:
                original = data.strip()
                event = parse_event(original, self.context.xml_limits)
        except ProtocolError as exc:
            counters.inc(f"rejected{{reason={exc.reason}}}")
            log.info("%s datagram from %s dropped: %s (%s)", self.name, addr[0], exc.reason, exc)
            return
        if event is None:
            counters.inc("control_only_messages")
            return
        counters.inc(f"events_in{{transport={self.name}}}")
        self.context.router.submit(
            self.subscriber, event, original, wall_clock_ms(), original_protobuf=payload
        )

    def error_received(self, exc: Exception) -> None:
        log.warning("%s socket error: %s", self.name, exc)

    def _wake(self) -> None:
        asyncio.get_running_loop().call_soon(self._send_pending)

    def _send_pending(self) -> None:
        """Send this turn's broadcasts to the group, one datagram each (directed ones stay off the mesh)."""
        pending, self.subscriber.pending = self.subscriber.pending, []
        if self.transport is None or self.destination is None:
            return
        for message in pending:
            if not message.directed:
                self.transport.sendto(message.xml, self.destination)


def multicast_socket(group: str, port: int, interface: str) -> socket.socket:
    """A UDP socket bound to ``port``, member of ``group`` on ``interface``, sending there too."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("", port))
    membership = struct.pack("4s4s", socket.inet_aton(group), socket.inet_aton(interface))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, membership)
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(interface))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 1)
    sock.setblocking(False)
    return sock

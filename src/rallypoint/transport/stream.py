"""One streaming client connection (plain TCP, or TLS once ``net.tls`` has verified it): bytes in, bytes out.

The protocol object is glue: the :class:`StreamDecoder` splits the bytes, the codecs
parse them, the :class:`Negotiator` handles the protocol switch, the router decides who
receives what, and the :class:`Egress` encodes it, holds what the socket cannot take yet and
tracks what the peer acknowledged. Everything this client sends ready in one loop turn
leaves in one ``write``.
"""

import asyncio
import logging
import uuid
from collections.abc import Callable
from functools import partial
from typing import NamedTuple, cast

from rallypoint.cot import control, types
from rallypoint.cot.event import Event
from rallypoint.cot.negotiation import Negotiator
from rallypoint.cot.protobuf import proto_to_event
from rallypoint.cot.stream import Frame, FrameKind, StreamDecoder
from rallypoint.cot.xml import parse_event
from rallypoint.errors import ForbiddenXml, FrameTooLarge, MalformedFrame, ProtocolError
from rallypoint.router.message import Outbound
from rallypoint.router.refusals import describe
from rallypoint.router.registry import Subscriber
from rallypoint.transport.acks import AckTracker
from rallypoint.transport.context import ServerContext, wall_clock_ms
from rallypoint.transport.egress import Egress
from rallypoint.transport.keepalive import tune_stream_socket
from rallypoint.transport.pings import PingSchedule

log = logging.getLogger(__name__)

TRANSPORT_HIGH_WATER = 256 * 1024
"""Bytes the kernel-side buffer may hold before we stop writing and queue in the outbox."""

READ_BUDGET_PER_TURN = 128 * 1024
"""Bytes taken from one client per event-loop turn before it must wait for the next turn.

Without it a client sending flat out is read up to 32 times in a row (libuv's limit), so
several megabytes are parsed before any flush runs and every other client waits."""

MESSAGES_PER_TURN = 512
"""Messages handled from one client per event-loop turn: bytes alone do not bound the work
when the messages are tiny (a read of 128 KiB holds 30 000 four-byte frames)."""

_FATAL_ERRORS = (ForbiddenXml, FrameTooLarge, MalformedFrame)
"""Errors after which the stream cannot be trusted (or the client is hostile): disconnect."""


def peer_address(transport: asyncio.BaseTransport) -> str:
    """``host:port`` of the other end of ``transport``, for logs and the audit log."""
    peer = transport.get_extra_info("peername")
    return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)


class Identity(NamedTuple):
    """Who is on an authenticated connection: the user its certificate names, and that certificate."""

    name: str
    groups: frozenset[str]
    """The user's groups: it sends into and receives from these (none: it reaches nobody)."""
    serial: int


class StreamConnection(asyncio.Protocol):
    """A CoT streaming client: XML by default, TAK protocol v1 after negotiation.

    ``identity`` is set for TLS clients (from the verified certificate, never from what the
    client sends); anonymous clients share the ``__ANON__`` group. ``on_lost`` is told when
    the connection has closed.
    """

    def __init__(
        self,
        context: ServerContext,
        transport_name: str = "tcp",
        *,
        identity: Identity | None = None,
        on_lost: Callable[["StreamConnection"], None] | None = None,
    ) -> None:
        self.context = context
        self.transport_name = transport_name
        self.identity = identity
        self._on_lost = on_lost
        settings = context.settings
        self.decoder = StreamDecoder(settings.max_event_bytes, settings.max_event_bytes, MESSAGES_PER_TURN)
        self.negotiator = Negotiator(str(uuid.uuid4()), context.server_version)
        self.subscriber: Subscriber | None = None
        self.peer = "?"
        self._transport: asyncio.Transport | None = None
        self._loop = asyncio.get_running_loop()
        self._flush_scheduled = False
        self._paused_since: float | None = None
        self._partial_since: float | None = None
        self._last_received = self.context.clock()
        self.pings = PingSchedule(settings.server_ping_interval_s, self._last_received)
        self.egress = Egress(
            context,
            self.pings,
            on_overflow=partial(self.close, abort=True),
            on_acknowledged=self._update_watch,
        )
        self._bad_in_a_row = 0
        self._auths = 0
        self._closing = False
        self._read_this_turn = 0
        self._turn_end_scheduled = False
        self._reading_paused = False
        self._events_in_counter = {
            kind: f"events_in{{transport={transport_name},format={kind.value}}}" for kind in FrameKind
        }

    # asyncio callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's
        self._transport = transport
        self.peer = peer_address(transport)
        self.egress.transport, self.egress.peer = transport, self.peer
        counters = self.context.counters
        if len(self.context.connections) >= self.context.settings.max_connections:
            counters.inc("connections_refused{reason=limit}")
            log.warning("%s refused: %d connections already open", self.peer, len(self.context.connections))
            transport.abort()
            return
        sock = transport.get_extra_info("socket")
        if sock is not None:
            tune_stream_socket(sock, self.context.settings)
        self.egress.acks = AckTracker(sock, exact=self.transport_name != "tls")
        transport.set_write_buffer_limits(high=TRANSPORT_HIGH_WATER)
        self.context.connections.add(self)
        counters.inc(f"connections_opened{{transport={self.transport_name}}}")
        now = wall_clock_ms()
        self.subscriber = self._new_subscriber(now)
        self.subscriber.writable = self._writable
        self.context.router.attach(self.subscriber, now)
        self._send_event(self.negotiator.offer(now))
        log.debug("%s connected", self.peer)

    def _new_subscriber(self, now: int) -> Subscriber:
        """The router's view of this client: its identity's groups, or the anonymous group."""
        settings = self.context.settings
        identity = self.identity
        if identity is not None:
            return self.context.identified_subscriber(
                self._wake,
                identity.name,
                identity.groups,
                transport=self.transport_name,
                address=self.peer,
                now_ms=now,
            )
        subscriber = Subscriber(self._wake, transport=self.transport_name, address=self.peer, now_ms=now)
        if settings.anti_spoofing_plain:
            subscriber.owner = f"{describe(subscriber)} #{subscriber.id}"  # cannot be a user name
        return subscriber

    def data_received(self, data: bytes) -> None:
        self._last_received = self.context.clock()
        self.pings.traffic(self._last_received)
        if not self._turn_end_scheduled:
            self._turn_end_scheduled = True
            self._loop.call_soon(self._end_of_turn)
        self._read_this_turn += len(data)
        self._decode(data)
        if self._read_this_turn >= READ_BUDGET_PER_TURN:
            self._pause_reading()

    def _decode(self, data: bytes) -> None:
        """Handle the messages ``data`` completes, at most the decoder's ``max_frames`` per turn."""
        try:
            frames = self.decoder.feed(data)
        except ProtocolError as exc:
            self._reject(exc)
            return
        for frame in frames:
            if self._closing:
                return
            self._handle(frame)
        if self.decoder.error is not None:
            self._reject(self.decoder.error)
        elif self.decoder.pending_bytes == 0:
            self._partial_since = None
        elif frames or self._partial_since is None:  # the unfinished message is a new one
            self._partial_since = self._last_received
        self._update_watch()
        if self.decoder.backlog and not self._closing:
            self._pause_reading()  # the rest of this read waits for the next turn
            self._loop.call_soon(self._decode_backlog)

    def _decode_backlog(self) -> None:
        if self._closing:
            return
        self._decode(b"")
        if not self.decoder.backlog:
            self._resume_reading()

    def _pause_reading(self) -> None:
        if not self._reading_paused and not self._closing:
            assert self._transport is not None
            self._transport.pause_reading()
            self._reading_paused = True

    def _resume_reading(self) -> None:
        if self._reading_paused and not self._closing and self._transport is not None:
            self._reading_paused = False
            self._transport.resume_reading()

    def _end_of_turn(self) -> None:
        """Runs once per loop turn in which this client sent data: refill its read budget."""
        self._turn_end_scheduled = False
        self._read_this_turn = 0
        if not self.decoder.backlog:
            self._resume_reading()

    def _update_watch(self) -> None:
        """Keep this connection in the set the tick checks only while a timer can fire."""
        if self._paused_since is None and self._partial_since is None and not self.egress.acks:
            self.context.watched.discard(self)
        else:
            self.context.watched.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        self.context.connections.discard(self)
        self.context.watched.discard(self)
        if self.subscriber is not None:
            self.context.router.detach(self.subscriber, wall_clock_ms())
            self.egress.return_unacknowledged(self.subscriber)
            self._offer_room(self.subscriber)
            self.context.counters.inc(f"connections_closed{{transport={self.transport_name}}}")
            log.debug("%s disconnected (%s)", self.peer, exc or "closed")
        if self._on_lost is not None:
            self._on_lost(self)

    def pause_writing(self) -> None:
        self.context.counters.inc("write_paused")
        self._paused_since = self.context.clock()
        self._update_watch()

    def resume_writing(self) -> None:
        self._paused_since = None
        self._update_watch()
        self._wake()

    # incoming

    def _handle(self, frame: Frame) -> None:
        if frame.kind is FrameKind.AUTH:
            self.context.counters.inc("auth_messages_ignored")
            self._auths += 1
            if self._auths > 1:
                return  # logged once: a flood of them must not flood the log
            if self.identity is None:
                log.info("%s sent <auth>; credentials are not checked on this port", self.peer)
            else:
                log.info("%s sent <auth>; ignored, the identity comes from its certificate", self.peer)
            return
        event: Event | None
        try:
            if frame.kind is FrameKind.XML:
                event = parse_event(frame.payload, self.context.xml_limits)
            else:
                event = proto_to_event(frame.payload, self.context.xml_limits)
        except ProtocolError as exc:
            self._reject(exc)
            return
        self._bad_in_a_row = 0
        if event is None:
            self.context.counters.inc("control_only_messages")
            return
        self.context.counters.inc(self._events_in_counter[frame.kind])
        self._dispatch(event, frame)

    def _dispatch(self, event: Event, frame: Frame) -> None:
        now = wall_clock_ms()
        if event.type == types.PING:
            self._send_event(control.pong(now))
            return
        reply = self.negotiator.handle(event, now)
        if reply is not None:
            self._send_event(reply.response)
            if reply.switch_to is not None:
                self._flush()  # the response and all before it leave in the old format
                self.egress.format = reply.switch_to
                log.info("%s now speaks TAK protocol v1", self.peer)
            return
        assert self.subscriber is not None
        if frame.kind is FrameKind.XML:
            self.context.router.submit(self.subscriber, event, frame.payload, now)
        else:
            self.context.router.submit(self.subscriber, event, None, now, original_protobuf=frame.payload)

    def _reject(self, error: ProtocolError) -> None:
        counters = self.context.counters
        counters.inc(f"rejected{{reason={error.reason}}}")
        self._bad_in_a_row += 1
        if isinstance(error, _FATAL_ERRORS) or self._bad_in_a_row > self.context.settings.max_bad_messages:
            log.warning("%s disconnected: %s (%s)", self.peer, error.reason, error)
            self.close(abort=True)
        else:
            log.info("%s sent a bad message, dropped: %s (%s)", self.peer, error.reason, error)

    # outgoing

    def _wake(self) -> None:
        """The router queued the first message of this loop turn: drain at the end of the turn."""
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def _send_event(self, event: Event) -> None:
        """Send a connection-local control message in this connection's current format."""
        assert self.subscriber is not None
        self.subscriber.deliver(Outbound(event, directed=True))

    def _flush(self) -> None:
        """Encode what the router queued this turn and write it, or park it while paused."""
        self._flush_scheduled = False
        subscriber = self.subscriber
        if subscriber is None or self._closing or self._transport is None:
            return
        pending = subscriber.pending
        if pending:
            subscriber.pending = []
            if self._paused_since is None and not self.egress.outbox:
                self.egress.write(self.egress.encode_all(pending), [m for m in pending if m.returnable])
            else:
                for message in pending:
                    self.egress.park(message, closing=self._closing)
        if self._paused_since is None and self.egress.outbox:
            self.egress.write_outbox()
        if self._writable():
            self._offer_room(subscriber)

    def _writable(self) -> bool:
        """Nothing waits to be written and the socket takes more: what is handed over now is
        written at once, whatever the queue's size (the subscriber's ``writable``)."""
        subscriber = self.subscriber
        idle = subscriber is not None and not subscriber.pending and not self.egress.outbox
        return idle and not self._closing and self._paused_since is None

    @staticmethod
    def _offer_room(subscriber: Subscriber) -> None:
        """Tell whoever waits for this queue to drain (kept mail: its next page) that it has, or ended."""
        ready, subscriber.on_writable = subscriber.on_writable, None
        if ready is not None:
            ready()

    # lifecycle

    def check_timeouts(self, now: float) -> None:
        """Close this connection if it is stalled, trickling, or (when configured) idle."""
        self.egress.confirm()
        settings = self.context.settings
        if self._paused_since is not None and now - self._paused_since > settings.stall_timeout_s:
            self._timeout("stalled", f"accepted no data for {settings.stall_timeout_s:g} s")
        elif (
            self._partial_since is not None and now - self._partial_since > settings.partial_message_timeout_s
        ):
            self._timeout(
                "slow_sender", f"left a message unfinished for {settings.partial_message_timeout_s:g} s"
            )
        elif settings.idle_timeout_s and now - self._last_received > settings.idle_timeout_s:
            self._timeout("idle", f"silent for {settings.idle_timeout_s:g} s")

    def ping_if_silent(self, now: float, keepalive: Outbound) -> None:
        """Send ``keepalive`` if nothing has crossed this connection for the ping interval (one
        whose writes are paused has unacknowledged bytes already: the user timeout applies)."""
        if self._closing or self._paused_since is not None or self.subscriber is None:
            return
        if self.pings.due(now):
            self.context.counters.inc("pings_sent")
            self.subscriber.deliver(keepalive)

    def _timeout(self, reason: str, why: str) -> None:
        self.context.counters.inc(f"disconnected{{reason={reason}}}")
        log.warning("%s disconnected: %s", self.peer, why)
        self.close(abort=True)

    def close(self, *, abort: bool = False) -> None:
        """Flush what is queued (unless aborting) and close the socket."""
        if self._closing or self._transport is None:
            return
        if not abort:
            self._flush()
            if self.egress.outbox:
                self.egress.write_outbox()
        self._closing = True
        if abort:
            self._transport.abort()
        else:
            self._transport.close()

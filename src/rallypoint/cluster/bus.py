"""The cluster bus: thin asyncio glue between this node's router and NATS JetStream.

Publishing: the router tells :meth:`ClusterBus.publish` about every event it routed (and
every departure); the event is encoded once (``cluster.envelope``) and queued, and one task
publishes the queue in order, in acknowledged batches (``cluster.publisher``), on
``rallypoint.<cluster>.<node>``, which the JetStream stream ``RALLYPOINT_<cluster>`` keeps.
A directed chat whose recipient is connected to another node is answered ``b-t-f-p`` once
JetStream stored it, as kept mail is once PostgreSQL committed it. While NATS is unreachable
the queue waits (bounded) and is published, in order, once the client has reconnected.

Receiving: one push consumer per node reads every node's subject from the stream, in stream
order, and hands each foreign event to :class:`~rallypoint.router.remote.Peers`, which routes
it to this node's clients only: nothing is published again, so nothing echoes. After a
reconnection (NATS restarted) the consumer is made again from the last stream sequence seen,
so what others published meanwhile still arrives; message ids seen already are dropped.
"""

import asyncio
import contextlib
import functools
import itertools
import logging
import secrets
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime

import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext, api

from rallypoint.cluster.connection import RECONNECT_WAIT_S, connect
from rallypoint.cluster.envelope import (
    KIND_DEPARTED,
    KIND_JOURNAL,
    KIND_SEND_TO,
    decode,
    encode_headers,
)
from rallypoint.cluster.identities import SharedIdentities
from rallypoint.cluster.publisher import Publisher, Queued
from rallypoint.cot import types
from rallypoint.cot.event import Event
from rallypoint.cot.xml import XmlLimits, parse_event, serialize_event
from rallypoint.errors import ClusterError, ConfigError, ProtocolError
from rallypoint.router.message import Outbound
from rallypoint.router.notices import JournalNotices
from rallypoint.router.registry import Subscriber
from rallypoint.router.remote import Peers, RemoteSender, describe_sender
from rallypoint.router.router import Router
from rallypoint.router.stats import Counters
from rallypoint.tasks import TaskSet

log = logging.getLogger(__name__)

STREAM_PREFIX = "RALLYPOINT_"
SUBJECT_PREFIX = "rallypoint"
STREAM_MAX_AGE_S = 3600.0
"""Events stay in the stream an hour: a node that was cut off longer rebuilds from PostgreSQL."""
STREAM_MAX_BYTES = 1024 * 1024 * 1024
DUPLICATE_WINDOW_S = 120.0
"""JetStream drops a message whose ``Nats-Msg-Id`` it stored this recently (a republish)."""
MAX_REMEMBERED_IDS = 100_000
"""Message ids of routed remote events remembered, to drop redeliveries."""
START_MARGIN_MS = 30_000
"""At start the consumer reads the stream from this long before the store was read: what the
store's write-behind had not written yet, and clock skew between nodes (replays are idempotent)."""
HEARTBEAT_S = 2.0
"""Each node says it is alive this often, on core NATS beside the stream (not stored)."""
NOTICE_WAIT_S = 2.0
"""How long the consumer waits for a journal notice's entries to be applied before it goes on
(they are then applied by the next catch-up): the store's round trip, far below it."""
NODE_TIMEOUT_MS = 10_000
"""A node not heard from this long, while this one is connected, is taken for gone (killed, cut
off): its devices left (``Peers.node_lost``), so their mail is kept for wherever they return."""


class ClusterBus:
    """One node's connection to the cluster (see the module docstring)."""

    def __init__(
        self,
        router: Router,
        *,
        cluster: str,
        node: str,
        urls: str,
        limits: XmlLimits,
        now_ms: Callable[[], int],
    ) -> None:
        self.node = node
        self._subject = f"{SUBJECT_PREFIX}.{cluster}.{node}"
        self._stream = f"{STREAM_PREFIX}{cluster}"
        self._subjects = f"{SUBJECT_PREFIX}.{cluster}.*"
        self._router = router
        self._servers = [url.strip() for url in urls.split(",") if url.strip()]
        self._limits = limits
        self._now_ms = now_ms
        self._counters: Counters = router.counters
        self.peers = Peers(router)
        self._alive_subject = f"{SUBJECT_PREFIX}.{cluster}.alive.{node}"
        self._alive_all = f"{SUBJECT_PREFIX}.{cluster}.alive.*"
        self._heard: dict[str, int] = {}
        """Other nodes, and when one of their events or heartbeats last arrived (wall ms)."""
        self.heartbeat_s = HEARTBEAT_S
        self.deliver_to: Callable[[str, Event], object] | None = None
        """Set by the server: hands a server-sent event from another node to a device here, or
        keeps it in the mailbox if the device has left (the mailbox's ``send_to``, not relayed)."""
        self.identities: SharedIdentities | None = None
        """Set by the server when this node has an identity store: it is shared with the others."""
        self.notices: JournalNotices | None = None
        """Set by the server: news of shared journal entries (missions, identities) both ways."""
        self._boot = secrets.token_hex(4)
        """Distinguishes this run's message ids from those of an earlier run of the same node."""
        self._sequence = itertools.count(1).__next__
        self._publisher = Publisher(self._subject, self._counters)
        self._answer: tuple[Outbound, Subscriber] | None = None
        """The directed chat the router just handed on to another node, to answer once stored."""
        self._connected = asyncio.Event()
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._last_stream_seq = 0
        self._since_ms = 0
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._subscription: Subscription | None = None
        self._tasks = TaskSet("cluster")

    @property
    def ready(self) -> bool:
        """Connected to NATS and reading the stream (``/health``, tests)."""
        return self._connected.is_set() and self._subscription is not None

    async def start(self, since_ms: int) -> None:
        """Connect (:class:`ConfigError` if NATS cannot be reached), make sure the stream exists,
        read it from ``since_ms`` on, and share what the router routes from now on."""
        self._since_ms = since_ms - START_MARGIN_MS
        nc = await connect(
            self._servers,
            f"rallypoint {self.node}",
            what="NATS",
            error_cb=self._error,
            disconnected_cb=self._disconnected,
            reconnected_cb=self._reconnected,
        )
        self._nc, self._js = nc, nc.jetstream()
        try:
            await self._publisher.attach(nc)
            await self._ensure_stream()
            await self._subscribe()
            await nc.subscribe(self._alive_all, cb=self._heartbeat)  # the client renews it on reconnection
        except nats.errors.Error as exc:
            await nc.close()
            raise ConfigError(f"NATS at {', '.join(self._servers)} has no usable JetStream: {exc}") from exc
        self._connected.set()
        self._tasks.spawn(self._publisher.run(nc, self._connected), name="rallypoint-cluster-publish")
        self._router.on_publish = self.publish
        self._router.on_elsewhere = self._elsewhere
        if self.notices is not None:
            self.notices.relay = self.publish_journal
        if self.identities is not None:
            await self.identities.start()
        log.info("cluster node %s on %s", self.node, ", ".join(self._servers))

    async def stop(self) -> None:
        """Stop sharing, publish what is queued (if NATS is there), and disconnect."""
        if self._router.on_publish == self.publish:
            self._router.on_publish = None
            self._router.on_elsewhere = None
        if self.identities is not None:
            await self.identities.stop()
        if self.notices is not None and self.notices.relay == self.publish_journal:
            self.notices.relay = None
        await self._tasks.stop()
        nc, self._nc = self._nc, None
        if nc is None:
            return
        if nc.is_connected:
            await self._publisher.flush_unacknowledged(nc)
        with contextlib.suppress(nats.errors.Error):
            await nc.drain()
        await nc.close()

    def publish(self, message: Outbound, sender: Subscriber, departed: bool) -> None:
        """The router's hook: queue one routed event for the other nodes (never blocks)."""
        event = message.event
        payload = (
            serialize_event(event) if event.detail is not None and event.detail.has_marti else message.xml
        )
        msg_id = f"{self.node}.{self._boot}.{self._sequence()}"
        answer, self._answer = self._answer, None
        on_stored = None
        if answer is not None and answer[0] is message:
            on_stored = functools.partial(self._stored, message, sender)
        headers = encode_headers(msg_id, describe_sender(sender, self.node), departed=departed)
        self._publisher.put(Queued(payload, headers, on_stored))

    def _elsewhere(self, message: Outbound, sender: Subscriber) -> None:
        """The router's hook: ``message`` (a chat) is for devices connected to other nodes only."""
        self._answer = (message, sender)

    def _stored(self, message: Outbound, sender: Subscriber) -> None:
        """JetStream stored a chat for another node's device: its sender is told it is accepted."""
        if sender.uid is None or self._router.registry.by_uid(sender.uid) is not sender:
            return  # gone: it will resend, or see the chat delivered
        self._counters.inc("cluster_chat_pending")
        sender.deliver(Outbound(message.event._replace(type=types.CHAT_PENDING), directed=True))

    def send_elsewhere(self, node: str, uid: str, event: Event) -> None:
        """The mailbox's relay: the server's own ``event`` for device ``uid``, connected to ``node``."""
        sender = RemoteSender(self.node, 0, None, None, None, None, frozenset(), frozenset())
        msg_id = f"{self.node}.{self._boot}.{self._sequence()}"
        headers = encode_headers(msg_id, sender, departed=False, kind=KIND_SEND_TO, to=(node, uid))
        self._publisher.put(Queued(serialize_event(event), headers, None))

    def publish_journal(self, prefix: str) -> None:
        """Queue the news that this node appended to the shared journal ``prefix``."""
        sender = RemoteSender(self.node, 0, None, None, None, None, frozenset(), frozenset())
        msg_id = f"{self.node}.{self._boot}.{self._sequence()}"
        headers = encode_headers(msg_id, sender, departed=False, kind=KIND_JOURNAL, topic=prefix)
        self._publisher.put(Queued(b"", headers, None))

    async def _ensure_stream(self) -> None:
        assert self._js is not None
        config = api.StreamConfig(
            name=self._stream,
            subjects=[self._subjects],
            retention=api.RetentionPolicy.LIMITS,
            max_age=STREAM_MAX_AGE_S,
            max_bytes=STREAM_MAX_BYTES,
            duplicate_window=DUPLICATE_WINDOW_S,
            storage=api.StorageType.FILE,
        )
        try:
            await self._js.add_stream(config)
        except nats.js.errors.BadRequestError:
            await self._js.update_stream(config)  # made by an older node with other limits

    async def _subscribe(self) -> None:
        """A push consumer from just after the last event seen (at start: from ``since``)."""
        assert self._js is not None
        if self._last_stream_seq:
            config = api.ConsumerConfig(
                deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=self._last_stream_seq + 1
            )
        else:
            config = api.ConsumerConfig(
                deliver_policy=api.DeliverPolicy.BY_START_TIME,
                opt_start_time=datetime.fromtimestamp(self._since_ms / 1000, UTC),
            )
        config.ack_policy = api.AckPolicy.NONE
        config.inactive_threshold = 60.0
        self._subscription = await self._js.subscribe(
            self._subjects, stream=self._stream, cb=self._received, config=config
        )

    async def _received(self, msg: Msg) -> None:
        self._last_stream_seq = max(self._last_stream_seq, msg.metadata.sequence.stream)
        if msg.subject == self._subject:
            return  # our own: routed here already
        try:
            envelope = decode(msg.headers, msg.data)
            if envelope.msg_id in self._seen:
                self._counters.inc("cluster_duplicate")
                return
            if envelope.kind == KIND_JOURNAL:
                self._seen[envelope.msg_id] = None
                await self._journal_changed(envelope.topic)
                return
            event = parse_event(envelope.payload, self._limits)
            if envelope.kind == KIND_SEND_TO:
                self._seen[envelope.msg_id] = None
                self._send_to(envelope.to, event)
                return
        except (ClusterError, ProtocolError) as exc:
            self._counters.inc("cluster_refused")
            log.warning("cluster: message on %s refused: %s", msg.subject, exc)
            return
        self._heard[envelope.sender.node] = self._now_ms()
        self._seen[envelope.msg_id] = None
        if len(self._seen) > MAX_REMEMBERED_IDS:
            self._seen.popitem(last=False)
        self._counters.inc("cluster_received")
        if envelope.kind == KIND_DEPARTED:
            self.peers.departed(envelope.sender, event, self._now_ms())
        else:
            self.peers.route(envelope.sender, event, envelope.payload, self._now_ms())

    async def _journal_changed(self, topic: str | None) -> None:
        """Let this node apply another's journal entries before the messages that followed the
        notice (a notification of that change) are handled; bounded, so a slow store cannot
        hold the bus."""
        if self.notices is None or topic is None:
            return
        try:
            async with asyncio.timeout(NOTICE_WAIT_S):
                await self.notices.received(topic)
        except TimeoutError:
            self._counters.inc("cluster_journal_wait_timeout")
            log.warning("cluster: %s entries not applied within %g s; going on", topic, NOTICE_WAIT_S)

    def _send_to(self, to: tuple[str, str] | None, event: Event) -> None:
        if to is not None and to[0] == self.node and self.deliver_to is not None:
            self._counters.inc("cluster_send_to_received")
            self.deliver_to(to[1], event)

    def tick(self, now_ms: int) -> None:
        """The server's timer, every :attr:`heartbeat_s`: say this node is alive, and let the
        devices of nodes silent for :data:`NODE_TIMEOUT_MS` go. Not while NATS is away: then
        every node is silent to this one and none of them is gone."""
        if not self.ready or self._nc is None:
            return
        self._tasks.spawn(self._say_alive(self._nc), name="rallypoint-cluster-heartbeat")
        if self.identities is not None:
            self.identities.tick()
        for node, heard in list(self._heard.items()):
            if now_ms - heard > NODE_TIMEOUT_MS:
                del self._heard[node]
                devices = self.peers.node_lost(node, now_ms)
                self._counters.inc("cluster_node_lost")
                log.warning("cluster: node %s silent for %d s: its %d device(s) taken as departed",
                            node, NODE_TIMEOUT_MS // 1000, devices)  # fmt: skip

    async def _say_alive(self, nc: Client) -> None:
        with contextlib.suppress(nats.errors.Error):
            await nc.publish(self._alive_subject, b"")

    async def _heartbeat(self, msg: Msg) -> None:
        node = msg.subject.rsplit(".", 1)[-1]
        if node != self.node:
            self._heard[node] = self._now_ms()

    async def _error(self, exc: Exception) -> None:
        if self._nc is not None:  # at start, an unreachable NATS is one ConfigError, not a log line per try
            log.warning("cluster: NATS: %s", exc)

    async def _disconnected(self) -> None:
        self._connected.clear()
        if self._nc is None:
            return  # never connected (start refuses) or stopping
        log.warning("cluster: disconnected from NATS; reconnecting")

    async def _reconnected(self) -> None:
        """NATS is back (perhaps restarted): the stream and this node's consumer again, then publish."""
        self._tasks.spawn(self._resume(), name="rallypoint-cluster-resume")

    async def _resume(self) -> None:
        old, self._subscription = self._subscription, None
        if old is not None:
            with contextlib.suppress(nats.errors.Error):
                await old.unsubscribe()
        while self._nc is not None and self._nc.is_connected:
            try:
                await self._ensure_stream()
                await self._subscribe()
                break
            except (TimeoutError, nats.errors.Error) as exc:  # JetStream not ready yet after a restart
                log.warning("cluster: cannot read the stream again yet: %s", exc)
                await asyncio.sleep(RECONNECT_WAIT_S)
        else:
            return  # disconnected again: the next reconnection resumes
        self._heard = dict.fromkeys(self._heard, self._now_ms())  # silent only because we were away
        self._connected.set()
        log.info("cluster: reconnected to NATS; reading from stream sequence %d", self._last_stream_seq + 1)

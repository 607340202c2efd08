"""The federation link: thin asyncio glue between this site's router and its own NATS JetStream.

Each site runs its own ``nats-server`` with JetStream in a domain named after the site; one of
two sites also holds a leaf-node connection to the other's. This component only ever talks to
its own site's NATS, so it starts and runs while the link is down:

- **Leaving.** The router's publishing hook hands every event routed here to
  :func:`~rallypoint.federation.crossing.leaving`; each copy an outbound rule lets out is
  published, acknowledged and in order (``cluster.publisher``), on ``rpfed.<site>.to.<remote>``,
  kept by this domain's stream ``RPFED_<SITE>_OUT``.
- **Crossing.** This domain's stream ``RPFED_<SITE>_FROM_<REMOTE>`` *sources* the remote's out
  stream, filtered to what is meant for this site, through the remote domain's API
  (``$JS.<remote>.API``) over the leaf node. JetStream itself resumes the source from the last
  sequence it copied when the link returns, so what either side produced meanwhile crosses.
- **Entering.** One durable pull consumer per remote reads that stream in order and hands
  each event to :class:`~rallypoint.federation.crossing.Arrivals`; a fetched batch is
  acknowledged (``AckPolicy.ALL``) once all of it was routed, so a restart of this site goes
  on from where it stopped.
- **Exactly once across a restart.** What a routed event leaves behind that outlives the
  process (its history row, mail kept for an offline recipient) is stored with its crossing
  key, once per key. Once a batch's rows are committed, its last stream sequence is kept in
  the store as that remote's mark; the batch is acknowledged after. A site killed before the
  acknowledgement reads the batch again: what is at or below the mark is skipped, and what
  above it was stored already is not stored twice.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext, api

from rallypoint.cluster.connection import connect
from rallypoint.cluster.envelope import KIND_DEPARTED, KIND_SEND_TO, decode, encode_headers
from rallypoint.cluster.publisher import Publisher, Queued
from rallypoint.cot.event import Event
from rallypoint.cot.xml import XmlLimits, parse_event, serialize_event
from rallypoint.errors import ClusterError, ConfigError, ProtocolError, StoreError
from rallypoint.federation.crossing import Arrivals, DeliverTo, leaving, sent_here
from rallypoint.federation.policy import Policy
from rallypoint.federation.settings import (
    domain_api,
    inbound_stream,
    outbound_stream,
    outbound_subject,
)
from rallypoint.router.message import Outbound
from rallypoint.router.registry import Subscriber
from rallypoint.router.remote import RemoteSender
from rallypoint.router.router import Router
from rallypoint.store.base import FederationStore
from rallypoint.tasks import TaskSet

log = logging.getLogger(__name__)

STREAM_MAX_AGE_S = 24 * 3600.0
"""What left a site stays in its out stream (and in the remote's copy) a day: an outage shorter
than that loses nothing; after a longer one, only the last day crosses (stale items are skipped
anyway)."""
STREAM_MAX_BYTES = 1024 * 1024 * 1024
DUPLICATE_WINDOW_S = 120.0
"""JetStream drops a republished copy (same ``Nats-Msg-Id``) stored this recently."""
FLUSH_TIMEOUT_S = 5
"""At stop, how long what was handed to NATS may take to leave (an int: the client declares it so)."""
FETCH_BATCH = 256
"""Events fetched, routed and acknowledged together."""
MAX_ACK_PENDING = 4 * FETCH_BATCH
"""Events the consumer may have out unacknowledged: above a batch, else a fetch gets part of one
and waits out :data:`FETCH_WAIT_S` for the rest (JetStream's default is 1 000)."""
FETCH_WAIT_S = 1.0
"""How long one fetch waits for events before it asks again."""
RETRY_WAIT_S = 1.0
"""Pause before reading again after this site's NATS refused or lost the consumer."""
ACK_WAIT_S = 30.0
"""A fetched batch not acknowledged this long is delivered again (this site stopped mid-batch)."""
CONSUMER = "rallypoint"
"""The durable consumer's name on each inbound stream."""


def _still_wanted() -> None:
    """Raise :class:`asyncio.CancelledError` if this task was cancelled: the NATS client's fetch
    returns the messages that arrived just as a cancellation reached it, and so loses it."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


class FederationLink:
    """This site's side of every federation link (see the module docstring); a server component."""

    def __init__(
        self,
        router: Router,
        policy: Policy,
        *,
        urls: str,
        limits: XmlLimits,
        now_ms: Callable[[], int],
        store: Callable[[], FederationStore | None] = lambda: None,
        settle: Callable[[], Awaitable[None]] | None = None,
        deliver_to: DeliverTo | None = None,
    ) -> None:
        """``store`` keeps each remote's mark; ``settle`` returns once what was routed so far is
        committed (history and mail); ``deliver_to`` hands what a remote server sent a device
        here to this site's mailbox, and keeps here what may not leave."""
        self._deliver_to = deliver_to
        self.policy = policy
        self._store = store
        self._settle = settle
        self._router = router
        self._servers = [url.strip() for url in urls.split(",") if url.strip()]
        self._limits = limits
        self._now_ms = now_ms
        self._counters = router.counters
        self._publishers = {
            remote.site: Publisher(outbound_subject(policy.site, remote.site), router.counters, "federation")
            for remote in policy.remotes
        }
        self.arrivals = {
            remote.site: Arrivals(router, remote, deliver_to=deliver_to) for remote in policy.remotes
        }
        self._connected = asyncio.Event()
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self._tasks = TaskSet("federation")

    def queued(self, remote: str) -> int:
        """Events for ``remote`` not yet stored by this site's JetStream."""
        return len(self._publishers[remote])

    async def start(self) -> None:
        """Connect to this site's NATS (:class:`ConfigError` if unreachable, without JetStream or
        in another domain), make the streams and consumers, and start crossing."""
        where = ", ".join(self._servers)
        nc = await connect(
            self._servers,
            f"rallypoint federation {self.policy.site}",
            what="the federation NATS",
            error_cb=self._error,
            disconnected_cb=self._disconnected,
            reconnected_cb=self._reconnected,
        )
        self._nc, self._js = nc, nc.jetstream()
        try:
            await self._check_domain(where)
            for publisher in self._publishers.values():
                await publisher.attach(nc)
            await self._ensure_streams()
        except (TimeoutError, nats.errors.Error) as exc:
            await nc.close()
            self._nc = None
            raise ConfigError(f"the federation NATS at {where} has no usable JetStream: {exc}") from exc
        except ConfigError:
            await nc.close()
            self._nc = None
            raise
        self._connected.set()
        for site, publisher in self._publishers.items():
            self._tasks.spawn(publisher.run(nc, self._connected), name=f"rallypoint-federation-to-{site}")
        for site, arrivals in self.arrivals.items():
            self._tasks.spawn(self._consume(arrivals), name=f"rallypoint-federation-from-{site}")
        self._router.on_publish = self._publish
        log.info(
            "federation: site %s on %s, linked with %s",
            self.policy.site,
            where,
            ", ".join(remote.site for remote in self.policy.remotes),
        )

    def tick(self, now_ms: int) -> int | None:
        """Nothing periodic: JetStream resumes the sources, the consumers read on their own."""
        return None

    async def stop(self) -> None:
        """Stop sharing, hand what is queued to NATS (if it is there), and disconnect."""
        if self._router.on_publish == self._publish:
            self._router.on_publish = None
        await self._tasks.stop()
        nc, self._nc = self._nc, None
        if nc is None:
            return
        if nc.is_connected:
            for publisher in self._publishers.values():
                await publisher.flush_unacknowledged(nc)
            with contextlib.suppress(TimeoutError, nats.errors.Error):
                await nc.flush(timeout=FLUSH_TIMEOUT_S)
        await nc.close()  # not drain: it would wait for the pull subscriptions' last fetch

    def _publish(self, message: Outbound, sender: Subscriber, departed: bool) -> None:
        """The router's hook: queue a copy for each remote its outbound rule lets it leave to."""
        payload: bytes | None = None
        for copy in leaving(self.policy, message, sender):
            if payload is None:
                event = message.event
                has_marti = event.detail is not None and event.detail.has_marti
                payload = serialize_event(event) if has_marti else message.xml
            headers = encode_headers(copy.msg_id, copy.sender, departed=departed)
            self._publishers[copy.remote].put(Queued(payload, headers, None))

    def send_elsewhere(self, site: str, uid: str, event: Event) -> None:
        """The mailbox's relay: the server's own ``event`` for device ``uid``, last heard of at
        ``site``; kept in this site's mailbox instead if the outbound rule does not let it out."""
        prefix = sent_here(self.policy, site, event) if site in self._publishers else None
        if prefix is None:
            if self._deliver_to is not None:
                self._deliver_to(uid, event)
            return
        server = RemoteSender(self.policy.site, 0, None, None, None, None, frozenset(), frozenset())
        headers = encode_headers(f"{prefix}:{uid}", server, departed=False, kind=KIND_SEND_TO, to=(site, uid))
        self._publishers[site].put(Queued(serialize_event(event), headers, None))

    async def _check_domain(self, where: str) -> None:
        assert self._js is not None
        info = await self._js.account_info()
        if info.domain != self.policy.site:
            raise ConfigError(
                f"the federation NATS at {where} has JetStream domain {info.domain!r}, "
                f"not this site's name {self.policy.site!r} (jetstream {{ domain: {self.policy.site} }})"
            )

    async def _ensure_streams(self) -> None:
        """This site's out stream, and one stream per remote sourcing what it sends here."""
        site = self.policy.site
        await self._put_stream(
            api.StreamConfig(name=outbound_stream(site), subjects=[f"{outbound_subject(site, '*')}"])
        )
        for remote in self.policy.remotes:
            source = api.StreamSource(
                name=outbound_stream(remote.site),
                filter_subject=outbound_subject(remote.site, site),
                external=api.ExternalStream(api=domain_api(remote.site)),
            )
            await self._put_stream(api.StreamConfig(name=inbound_stream(site, remote.site), sources=[source]))

    async def _put_stream(self, config: api.StreamConfig) -> None:
        assert self._js is not None
        config.retention = api.RetentionPolicy.LIMITS
        config.max_age = STREAM_MAX_AGE_S
        config.max_bytes = STREAM_MAX_BYTES
        config.duplicate_window = DUPLICATE_WINDOW_S
        config.storage = api.StorageType.FILE
        try:
            await self._js.add_stream(config)
        except nats.js.errors.BadRequestError:
            await self._js.update_stream(config)  # made by an earlier version with other limits

    async def _consume(self, arrivals: Arrivals) -> None:
        """Read one remote's events, in stream order, for as long as the site runs."""
        stream = inbound_stream(self.policy.site, arrivals.remote.site)
        while True:
            await self._connected.wait()
            assert self._js is not None
            try:
                mark = await self._mark(arrivals.remote.site, stream)
                config = api.ConsumerConfig(
                    ack_policy=api.AckPolicy.ALL, ack_wait=ACK_WAIT_S, max_ack_pending=MAX_ACK_PENDING
                )
                start = await self._resume_at(stream, mark)
                if start > 1:
                    config.deliver_policy = api.DeliverPolicy.BY_START_SEQUENCE
                    config.opt_start_seq = start
                subscription = await self._js.pull_subscribe(
                    "", durable=CONSUMER, stream=stream, config=config
                )
                while True:
                    try:
                        batch = await subscription.fetch(FETCH_BATCH, timeout=FETCH_WAIT_S)
                    except TimeoutError:
                        batch = []
                    _still_wanted()
                    for msg in batch:
                        if msg.metadata.sequence.stream <= mark:
                            self._counters.inc("federation_duplicate")  # routed before a restart
                        else:
                            self._arrived(arrivals, msg)
                    if batch:
                        mark = await self._finish(arrivals.remote.site, batch[-1], mark)
            except nats.errors.Error as exc:  # this site's NATS went away or lost the stream
                log.warning("federation: reading from %s again: %s", arrivals.remote.site, exc)
                await asyncio.sleep(RETRY_WAIT_S)
                with contextlib.suppress(TimeoutError, nats.errors.Error):
                    await self._ensure_streams()

    async def _mark(self, remote: str, stream: str) -> int:
        """The stored mark of ``remote``, or 0 if its stream was made anew since (numbered afresh)."""
        store = self._store()
        if store is None:
            return 0
        try:
            mark = await store.federation_mark(remote)
        except StoreError as exc:
            log.warning("federation: no mark for %s read (%s): repeats are stored once anyway", remote, exc)
            return 0
        assert self._js is not None
        info = await self._js.stream_info(stream)
        return mark if mark <= info.state.last_seq else 0

    async def _resume_at(self, stream: str, mark: int) -> int:
        """Where reading resumes: after the mark, or after what the durable consumer had
        acknowledged. The consumer is made anew from there, because one left with a batch
        delivered and unacknowledged (this site was killed) would go on past it, and
        acknowledging what follows (``AckPolicy.ALL``) would drop that batch for good."""
        assert self._js is not None
        try:
            info = await self._js.consumer_info(stream, CONSUMER)
        except nats.js.errors.NotFoundError:
            return mark + 1 if mark else 1
        await self._js.delete_consumer(stream, CONSUMER)
        return max(mark, info.ack_floor.stream_seq if info.ack_floor else 0) + 1

    async def _finish(self, remote: str, last: Msg, mark: int) -> int:
        """Mark and acknowledge a routed batch, even if this site is stopping meanwhile: else its
        clients would be handed the batch again after a restart."""
        finishing = asyncio.ensure_future(self._marked(remote, last, mark))
        try:
            return await asyncio.shield(finishing)
        except asyncio.CancelledError:
            await finishing
            raise

    async def _marked(self, remote: str, last: Msg, mark: int) -> int:
        """Keep the batch ending in ``last`` as routed, once all it left behind is committed, then
        acknowledge it."""
        sequence = last.metadata.sequence.stream
        store = self._store()
        if sequence <= mark or store is None:
            await last.ack()
            return mark
        if self._settle is not None:
            await self._settle()
        try:
            await store.set_federation_mark(remote, sequence)
        except StoreError as exc:
            log.warning("federation: mark of %s not kept (%s): a restart skips less", remote, exc)
            sequence = mark
        await last.ack()
        return sequence

    def _arrived(self, arrivals: Arrivals, msg: Msg) -> None:
        try:
            envelope = decode(msg.headers, msg.data)
            event = parse_event(envelope.payload, self._limits)
        except (ClusterError, ProtocolError) as exc:
            self._counters.inc("federation_refused")
            log.warning("federation: message from %s refused: %s", arrivals.remote.site, exc)
            return
        if envelope.kind == KIND_SEND_TO:
            if envelope.to is not None and envelope.to[0] == self.policy.site:
                arrivals.sent_to(envelope.to[1], event, self._now_ms())
            return
        departed = envelope.kind == KIND_DEPARTED
        arrivals.route(envelope.sender, event, envelope.payload, departed=departed, now_ms=self._now_ms())

    async def _error(self, exc: Exception) -> None:
        if self._nc is not None:
            log.warning("federation: NATS: %s", exc)

    async def _disconnected(self) -> None:
        self._connected.clear()
        if self._nc is not None:
            log.warning("federation: disconnected from this site's NATS; reconnecting")

    async def _reconnected(self) -> None:
        self._connected.set()
        log.info("federation: reconnected to this site's NATS")

"""Store-and-forward: messages for an offline client wait in a durable mailbox until it returns.

A directed message (``marti/dest`` uid or callsign, GeoChat to a person, an objective
assignment, a mission change) whose recipient is not connected is written to the store's
mail table, keyed by the recipient's device uid. When a connection binds that uid again
(its first position report), its mail is read back and handed to it oldest first, then
marked delivered, so it arrives in order and once. Messages sent to that uid while its mail
is being read wait behind the mail, so a fresh message never overtakes an old one.

All writes go through one :class:`~rallypoint.router.jobs.JobQueue` in submission order: the
store's ids are the delivery order.
"""

import contextlib
import logging
from collections.abc import Callable

from rallypoint.cot.event import Event
from rallypoint.cot.xml import XmlLimits, parse_event
from rallypoint.errors import ProtocolError, StoreError
from rallypoint.router.jobs import JobQueue
from rallypoint.router.message import Outbound
from rallypoint.router.registry import Subscriber
from rallypoint.router.router import Router
from rallypoint.router.stats import Counters
from rallypoint.store.base import Store

log = logging.getLogger(__name__)

MAX_QUEUED_WRITES = 100_000
"""Mail not yet written to the store at most; past it new mail is refused and counted."""


class Mailbox:
    """The server's store-and-forward service (see the module docstring)."""

    def __init__(
        self,
        router: Router,
        store: Callable[[], Store | None],
        now_ms: Callable[[], int],
        limits: XmlLimits,
    ) -> None:
        self._router = router
        self._store = store
        self._now_ms = now_ms
        self._limits = limits
        self._counters: Counters = router.counters
        self._jobs = JobQueue("rallypoint-mailbox", MAX_QUEUED_WRITES, (StoreError,), self._store_failed)
        self._collecting: dict[str, list[Outbound]] = {}
        """Uids whose mail is being read: live messages for them wait here, behind the mail."""

    def start(self) -> None:
        """Start the writer task and watch for returning clients."""
        self._jobs.start()
        self._router.on_bind.append(self._client_bound)

    async def stop(self) -> None:
        """Finish the queued writes, then end the task."""
        with contextlib.suppress(ValueError):
            self._router.on_bind.remove(self._client_bound)
        await self._jobs.stop()

    async def drain(self) -> None:
        """Return when every queued deposit and collection is done (tests, shutdown)."""
        await self._jobs.drain()

    def send_to(self, uid: str, event: Event) -> bool:
        """Deliver ``event`` to the client with device uid ``uid`` now, or keep it (see :data:`SendTo`)."""
        message = Outbound(event, directed=True)
        waiting = self._collecting.get(uid)
        if waiting is not None:
            waiting.append(message)
            return True
        subscriber = self._router.registry.by_uid(uid)
        if subscriber is not None and subscriber.receives:
            subscriber.deliver(message)
            self._counters.inc("mail_direct")
            return True
        self.keep(uid, message)
        return False

    def keep(self, uid: str, message: Outbound) -> None:
        """The router's ``on_absent``: a directed message for the offline device ``uid``."""
        self.deposit(uid, message.xml)

    def deposit(self, uid: str, xml: bytes) -> bool:
        """Queue ``xml`` (one CoT event) for the offline client ``uid``; False if refused."""
        now = self._now_ms()
        if not self._jobs.put(lambda: self._write(uid, now, xml)):
            self._counters.inc("mail_refused")
            return False
        self._counters.inc("mail_kept")
        return True

    def _client_bound(self, subscriber: Subscriber) -> None:
        uid = subscriber.uid
        if uid is None or not subscriber.receives or self._store() is None or uid in self._collecting:
            return
        self._collecting[uid] = []
        if not self._jobs.put(lambda: self._collect(subscriber, uid)):
            self._counters.inc("mail_refused")
            self._release(uid, subscriber)

    def _store_failed(self, exc: Exception) -> None:
        self._counters.inc("mail_store_errors")
        log.error("mailbox: %s", exc)

    async def _write(self, recipient: str, time: int, xml: bytes) -> None:
        store = self._store()
        if store is None:
            self._counters.inc("mail_lost")
            log.warning("mailbox: no store; a message for %s is lost", recipient)
            return
        await store.put_mail(recipient, time, xml)

    async def _collect(self, subscriber: Subscriber, uid: str) -> None:
        try:
            await self._deliver_kept(subscriber, uid)
        finally:
            self._release(uid, subscriber)

    async def _deliver_kept(self, subscriber: Subscriber, uid: str) -> None:
        store = self._store()
        if store is None:
            return
        items = await store.mail_for(uid)
        if self._router.registry.by_uid(uid) is not subscriber:
            return  # gone again before its mail was read: keep it
        delivered: list[int] = []
        for item in items:
            try:
                event = parse_event(item.xml, self._limits)
            except ProtocolError as exc:
                log.warning("mailbox: stored message %d for %s unreadable: %s", item.id, item.recipient, exc)
                delivered.append(item.id)
                continue
            subscriber.deliver(Outbound(event, item.xml, directed=True))
            delivered.append(item.id)
        if delivered:
            await store.mark_delivered(delivered, self._now_ms())
            self._counters.inc("mail_delivered", len(delivered))
            log.info("mailbox: %d kept messages delivered to %s", len(delivered), uid)

    def _release(self, uid: str, subscriber: Subscriber | None) -> None:
        """End a collection: messages that arrived meanwhile go out now (or into the mailbox)."""
        waiting = self._collecting.pop(uid, [])
        for message in waiting:
            if subscriber is not None and self._router.registry.by_uid(uid) is subscriber:
                subscriber.deliver(message)
            else:
                self.keep(uid, message)

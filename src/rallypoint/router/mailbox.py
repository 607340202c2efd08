"""Store-and-forward: messages for an offline client wait in a durable mailbox until it returns.

A directed message (``marti/dest`` uid or callsign, GeoChat to a person, an objective
assignment, a mission change) whose recipient is not connected is written to the store's
mail table, keyed by the recipient's device uid. When a connection binds that uid again
(its first position report), its mail is read back and handed to it oldest first, then
marked delivered, so it arrives in order and once. Messages sent to that uid while its mail
is being read wait behind the mail, so a fresh message never overtakes an old one.

All writes go through one task in submission order: the store's ids are the delivery order.
"""

import asyncio
import collections
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from rallypoint.cot.event import Event
from rallypoint.cot.xml import XmlLimits, parse_event, serialize_event, without_marti
from rallypoint.errors import ProtocolError, StoreError
from rallypoint.router.message import Outbound
from rallypoint.router.registry import Subscriber
from rallypoint.router.router import Router
from rallypoint.router.stats import Counters
from rallypoint.store.base import Store

log = logging.getLogger(__name__)

MAX_QUEUED_WRITES = 100_000
"""Mail not yet written to the store at most; past it new mail is refused and counted."""


@dataclass
class _Deposit:
    recipient: str
    time: int
    xml: bytes


@dataclass
class _Collect:
    subscriber: Subscriber
    uid: str


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
        self._work: collections.deque[_Deposit | _Collect] = collections.deque()
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self._collecting: dict[str, list[Outbound]] = {}
        """Uids whose mail is being read: live messages for them wait here, behind the mail."""

    def start(self) -> None:
        """Start the writer task and watch for returning clients."""
        self._task = asyncio.create_task(self._run(), name="rallypoint-mailbox")
        self._router.on_bind.append(self._client_bound)

    async def stop(self) -> None:
        """Finish the queued writes, then end the task."""
        with contextlib.suppress(ValueError):
            self._router.on_bind.remove(self._client_bound)
        await self.drain()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def drain(self) -> None:
        """Return when every queued deposit and collection is done (tests, shutdown)."""
        while self._work or not self._idle.is_set():
            await self._idle.wait()
            await asyncio.sleep(0)

    def is_connected(self, uid: str) -> bool:
        """True when a receiving connection has bound ``uid``."""
        subscriber = self._router.registry.by_uid(uid)
        return subscriber is not None and subscriber.receives

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
        self.deposit(uid, serialize_event(without_marti(event)))
        return False

    def keep(self, uid: str, message: Outbound) -> None:
        """The router's ``on_absent``: a directed message for the offline device ``uid``."""
        self.deposit(uid, message.xml)

    def deposit(self, uid: str, xml: bytes) -> bool:
        """Queue ``xml`` (one CoT event) for the offline client ``uid``; False if refused."""
        if len(self._work) >= MAX_QUEUED_WRITES:
            self._counters.inc("mail_refused")
            return False
        self._enqueue(_Deposit(uid, self._now_ms(), xml))
        self._counters.inc("mail_kept")
        return True

    def _client_bound(self, subscriber: Subscriber) -> None:
        uid = subscriber.uid
        if uid is None or not subscriber.receives or self._store() is None or uid in self._collecting:
            return
        self._collecting[uid] = []
        self._enqueue(_Collect(subscriber, uid))

    def _enqueue(self, item: _Deposit | _Collect) -> None:
        self._work.append(item)
        self._idle.clear()
        self._wakeup.set()

    async def _run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._work:
                item = self._work.popleft()
                try:
                    if isinstance(item, _Deposit):
                        await self._write(item)
                    else:
                        await self._collect(item)
                except StoreError as exc:
                    self._counters.inc("mail_store_errors")
                    log.error("mailbox: %s", exc)
                    if isinstance(item, _Collect):
                        self._release(item.uid, item.subscriber)
            self._idle.set()

    async def _write(self, deposit: _Deposit) -> None:
        store = self._store()
        if store is None:
            self._counters.inc("mail_lost")
            log.warning("mailbox: no store; a message for %s is lost", deposit.recipient)
            return
        await store.put_mail(deposit.recipient, deposit.time, deposit.xml)

    async def _collect(self, collect: _Collect) -> None:
        store = self._store()
        if store is None:
            self._release(collect.uid, collect.subscriber)
            return
        items = await store.mail_for(collect.uid)
        subscriber = collect.subscriber
        if self._router.registry.by_uid(collect.uid) is not subscriber:
            self._release(collect.uid, None)  # gone again before its mail was read: keep it
            return
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
            log.info("mailbox: %d kept messages delivered to %s", len(delivered), collect.uid)
        self._release(collect.uid, subscriber)

    def _release(self, uid: str, subscriber: Subscriber | None) -> None:
        """End a collection: messages that arrived meanwhile go out now (or into the mailbox)."""
        waiting = self._collecting.pop(uid, [])
        for message in waiting:
            if subscriber is not None and self._router.registry.by_uid(uid) is subscriber:
                subscriber.deliver(message)
            else:
                self.deposit(uid, serialize_event(without_marti(message.event)))

"""Store-and-forward: messages for an offline client wait in a durable mailbox until it returns.

A directed message (``marti/dest`` uid or callsign, GeoChat to a person, an objective
assignment, a mission change) whose recipient is not connected is written to the store's
mail table, keyed by the recipient's device uid. Durable before acknowledged: the sender of
a kept chat is answered ``b-t-f-p`` (pending) only once the transaction holding it has
committed; a message that could not be written is answered ``b-t-f-s`` and counted.
Writes are group-committed: everything deposited while a transaction runs goes into the
next one (up to :data:`BATCH_MAX_MAIL`), so a burst of thousands a second costs a few
transactions, not one per message.

When a connection binds that uid again (its first position report), its mail is read back
in pages of :data:`MAIL_PAGE` and handed to it oldest first, each page only once the
connection's write queue has drained (``Subscriber.writable``), so a write queue smaller
than the mail never overflows while it is handed over; an item is marked delivered
only when the connection reports that the device's TCP stack acknowledged its bytes
(``rallypoint.transport.acks``). When a connection ends, every returnable message it had
not had acknowledged comes back here (:meth:`Mailbox.returned`) and is kept again, in order.
Duplicates are possible only for messages that did reach the device but whose
acknowledgement the server had not seen yet (a reset, a kill -9): they carry the same
event uid, so the device can recognise them. Directed messages for that device routed while its mail is read
wait behind the mail (``Subscriber.held``), so a fresh message never overtakes an old one.

Each device's mailbox is bounded (``rallypoint.router.mail_limits``): by count and bytes at
commit, by age with an expiry sweep that :meth:`Mailbox.tick` starts from the server's timer.

All store work runs on one :class:`~rallypoint.router.jobs.JobQueue` in submission order:
the store's ids are the delivery order.
"""

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from rallypoint.cot import types
from rallypoint.cot.event import Event
from rallypoint.cot.xml import XmlLimits, parse_event
from rallypoint.errors import ProtocolError, StoreError
from rallypoint.router.jobs import JobQueue
from rallypoint.router.mail_limits import EXPIRE_BATCH, EXPIRED, MailLimits
from rallypoint.router.message import Outbound
from rallypoint.router.refusals import describe
from rallypoint.router.registry import Subscriber
from rallypoint.router.router import Router
from rallypoint.router.stats import Counters
from rallypoint.store.base import MailDraft, MailItem, Store

log = logging.getLogger(__name__)

MAX_QUEUED_WRITES = 100_000
"""Mail not yet written to the store at most; past it new mail is refused, answered and counted."""

BATCH_MAX_MAIL = 1000
"""Messages per transaction: large enough to amortise the commit, small enough to keep it short."""

MAIL_PAGE = 1000
"""Kept messages read and handed over per step when a device returns (all pages are read)."""

MAX_QUEUED_JOBS = 100_000
"""Store jobs (group commits, collections) waiting at most."""


class _Deposit(NamedTuple):
    draft: MailDraft
    message: Outbound | None
    sender: Subscriber | None
    """Who to answer once the message is durable (None: nobody, e.g. the server itself)."""
    limited: bool = False
    """New mail from a client, held to the recipient's limit; mail handed back by an ended
    connection and the server's own ``send_to`` were accepted already and are always kept."""


@dataclass
class _Handover:
    """How far a returning device's mail has been handed to it."""

    after: int = 0
    """The last mail id read."""
    total: int = 0


class Mailbox:
    """The server's store-and-forward service (see the module docstring)."""

    def __init__(
        self,
        router: Router,
        store: Callable[[], Store | None],
        now_ms: Callable[[], int],
        limits: XmlLimits,
        mail_limits: MailLimits | None = None,
    ) -> None:
        self._router = router
        self._store = store
        self._now_ms = now_ms
        self._limits = limits
        self.mail_limits = mail_limits or MailLimits()
        self._counters: Counters = router.counters
        self._jobs = JobQueue("rallypoint-mailbox", MAX_QUEUED_JOBS, (StoreError,), self._store_failed)
        self._batch: list[_Deposit] = []
        """Deposits waiting for the next group commit (one job is queued while it is not empty)."""
        self._collecting: dict[str, list[Outbound]] = {}
        """Uids whose mail is being read: live messages for them wait here, behind the mail."""
        self._acked: list[int] = []
        """Kept messages acknowledged by their recipient, to be marked delivered by the next job."""
        self._ack_queued = False
        self._next_sweep_ms: int | None = None
        self._sweeping = False
        self.relay: Callable[[str, str, Event], None] | None = None
        """Cluster mode: sends the server's own event (node, uid, event) to a device on another
        node; federating, to a device at another site (its ``node`` is that site's name)."""
        self.last_error: str | None = None
        """Why the last store operation failed; None once one succeeds again (``/health``)."""

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

    def queued(self) -> int:
        """Deposits accepted and not committed yet."""
        return len(self._batch)

    def send_to(self, uid: str, event: Event, *, relayed: bool = False, crossing: str | None = None) -> bool:
        """Deliver ``event`` to the client with device uid ``uid`` now, or keep it (see :data:`SendTo`).

        In cluster mode a device connected to another node (federating: at another site) is
        sent it through :attr:`relay` (unless it was ``relayed`` here already: then a device
        gone from here has it kept, under its ``crossing`` key if it came from another site)."""
        message = Outbound(event, directed=True, returnable=True)
        waiting = self._collecting.get(uid)
        if waiting is not None:
            waiting.append(message)
            return True
        subscriber = self._router.registry.by_uid(uid)
        if subscriber is not None and subscriber.receives:
            subscriber.deliver(message)
            self._counters.inc("mail_direct")
            return True
        known = self._router.devices.get(uid)
        if self.relay is not None and not relayed and known is not None and known.connected and known.node:
            self.relay(known.node, uid, event)
            self._counters.inc("mail_relayed")
            return True
        self._deposit(uid, message.xml, message, None, crossing=crossing)
        return False

    def keep(self, uid: str, message: Outbound, sender: Subscriber | None = None) -> bool:
        """The router's ``on_absent``: a directed message for the offline device ``uid``."""
        return self._deposit(uid, message.xml, message, sender, limited=True)

    def _deposit(
        self,
        uid: str,
        xml: bytes,
        message: Outbound | None,
        sender: Subscriber | None,
        *,
        limited: bool = False,
        crossing: str | None = None,
    ) -> bool:
        sender_uid = sender.uid if sender is not None else None
        if sender is not None:
            crossing = sender.crossing
        draft = MailDraft(uid, self._now_ms(), xml, sender_uid, crossing)
        deposit = _Deposit(draft, message, sender, limited)
        if len(self._batch) >= MAX_QUEUED_WRITES:
            self._fail([deposit], "mailbox_full")
            return False
        if not self._batch and not self._jobs.put(self._commit):
            self._fail([deposit], "mailbox_busy")
            return False
        self._batch.append(deposit)
        return True

    async def _commit(self) -> None:
        """One job: group-commit everything deposited so far, in transactions of at most a batch."""
        while self._batch:
            batch, self._batch = self._batch[:BATCH_MAX_MAIL], self._batch[BATCH_MAX_MAIL:]
            store = self._store()
            if store is None:
                self._fail(batch, "no_store")
                continue
            try:
                batch = await self._within_limits(store, batch)
                if not batch:
                    continue
                await store.put_mail_many([deposit.draft for deposit in batch])
            except StoreError as exc:
                self._counters.inc("mail_write_errors")
                self.last_error = f"mail not written: {exc}"
                self._fail(batch, "store_error")
                continue
            self.last_error = None
            self._counters.inc("mail_kept", len(batch))
            self._answer(batch, types.CHAT_PENDING)

    async def _within_limits(self, store: Store, batch: list[_Deposit]) -> list[_Deposit]:
        """The deposits that fit their recipient's limits, in order; the others are refused."""
        drafts = [deposit.draft for deposit in batch]
        reasons = await self.mail_limits.refusals(store, drafts, [deposit.limited for deposit in batch])
        refused: dict[str, list[_Deposit]] = {}
        for deposit, reason in zip(batch, reasons, strict=True):
            if reason is not None:
                refused.setdefault(reason, []).append(deposit)
        for reason, deposits in refused.items():
            self._fail(deposits, reason)
        return [deposit for deposit, reason in zip(batch, reasons, strict=True) if reason is None]

    def _fail(self, deposits: list[_Deposit], reason: str) -> None:
        """Mail that will not be kept: counted, logged, and each chat's sender told ``b-t-f-s``."""
        self._counters.inc(f"mail_lost{{reason={reason}}}", len(deposits))
        log.warning(
            "mailbox: %d messages not kept (%s), first for %s",
            len(deposits),
            reason,
            deposits[0].draft.recipient,
        )
        self._answer(deposits, types.CHAT_DELIVERY_FAILURE, reason)

    def _answer(self, deposits: list[_Deposit], answer: str, reason: str | None = None) -> None:
        """Tell each connected chat sender, once per message, what became of it."""
        answered: set[int] = set()
        registry = self._router.registry
        for deposit in deposits:
            message, sender = deposit.message, deposit.sender
            if message is None or sender is None or id(message) in answered:
                continue
            if not types.is_answerable(message.event.type) or sender.uid is None:
                continue
            if registry.by_uid(sender.uid) is not sender:
                continue  # gone: it will resend or see the chat delivered
            answered.add(id(message))
            _tell(sender, message.event, answer, reason)

    def _client_bound(self, subscriber: Subscriber) -> None:
        uid = subscriber.uid
        if uid is None or not subscriber.receives or self._store() is None or uid in self._collecting:
            return
        held: list[Outbound] = []
        self._collecting[uid] = held
        subscriber.held = held
        self._want_page(subscriber, uid, _Handover())

    def _want_page(self, subscriber: Subscriber, uid: str, handover: _Handover) -> None:
        if not self._jobs.put(lambda: self._collect(subscriber, uid, handover)):
            self._counters.inc("mail_refused")
            self._release(uid, subscriber)

    def _store_failed(self, exc: Exception) -> None:
        self._counters.inc("mail_store_errors")
        self.last_error = f"mail not read: {exc}"
        log.error("mailbox: %s", exc)

    async def _collect(self, subscriber: Subscriber, uid: str, handover: _Handover) -> None:
        """One job: hand ``subscriber`` a page; the next is read once its write queue has room."""
        more = False
        try:
            more = await self._hand_page(subscriber, uid, handover)
            more = more and self._router.registry.by_uid(uid) is subscriber
        finally:
            if not more:
                self._release(uid, subscriber)
                if handover.total:
                    log.info("mailbox: %d kept messages handed to %s", handover.total, uid)
        if not more:
            return
        if subscriber.writable():
            self._want_page(subscriber, uid, handover)
        else:  # told when it drains, or when the connection ends (the next page then finds it gone)
            subscriber.on_writable = lambda: self._want_page(subscriber, uid, handover)

    async def _hand_page(self, subscriber: Subscriber, uid: str, handover: _Handover) -> bool:
        """Hand the next page of kept mail to ``subscriber``, oldest first; True if a full page was read.

        Items stay undelivered in the store until the connection reports them acknowledged
        (:meth:`acknowledged`); only unreadable ones are marked at once. Items past the age
        limit are never handed over (the expiry sweep removes and counts them)."""
        store = self._store()
        if store is None:
            return False
        items = await store.mail_for(uid, after_id=handover.after, limit=MAIL_PAGE)
        if self._router.registry.by_uid(uid) is not subscriber:
            return False  # gone again before its mail was read: keep it
        expired_before = self.mail_limits.expired_before(self._now_ms())
        unreadable: list[int] = []
        for item in items:
            handover.after = item.id
            if item.time < expired_before:
                continue
            event = self._readable(item)
            if event is None:
                unreadable.append(item.id)
                continue
            subscriber.deliver(Outbound(event, item.xml, directed=True, returnable=True, mail_id=item.id))
            handover.total += 1
        if unreadable:
            await store.mark_delivered(unreadable, self._now_ms())
        self.last_error = None
        return len(items) == MAIL_PAGE

    def _readable(self, item: MailItem) -> Event | None:
        try:
            return parse_event(item.xml, self._limits)
        except ProtocolError as exc:
            log.warning("mailbox: stored message %d for %s unreadable: %s", item.id, item.recipient, exc)
            return None

    def tick(self, now_ms: int) -> int:
        """The server's timer: start an expiry sweep when one is due; return when the next is (ms).

        The first tick sweeps at once: mail may have expired while the server was down."""
        due = self._next_sweep_ms
        if due is not None and now_ms < due:
            return due
        if not self._sweeping and self._store() is not None:
            before = self.mail_limits.expired_before(now_ms)
            self._sweeping = self._jobs.put(lambda: self._expire(before))
        self._next_sweep_ms = now_ms + self.mail_limits.sweep_interval_ms()
        return self._next_sweep_ms

    async def _expire(self, before_ms: int) -> None:
        """One job: remove a batch of mail kept before ``before_ms``; a full batch queues the next,
        so a long backlog leaves between other jobs, not ahead of them."""
        self._sweeping = False
        store = self._store()
        if store is None:
            return
        items = await store.expire_mail(before_ms, limit=EXPIRE_BATCH)
        if not items:
            return
        self._counters.inc(f"mail_lost{{reason={EXPIRED}}}", len(items))
        log.warning(
            "mailbox: %d kept messages expired unread (kept longer than %g s), first for %s",
            len(items),
            self.mail_limits.max_age_s,
            items[0].recipient,
        )
        registry = self._router.registry
        for item in items:
            sender = registry.by_uid(item.sender) if item.sender is not None else None
            event = self._readable(item) if sender is not None and sender.receives else None
            if sender is not None and event is not None and types.is_answerable(event.type):
                _tell(sender, event, types.CHAT_DELIVERY_FAILURE, EXPIRED)
        if len(items) == EXPIRE_BATCH:
            self._sweeping = self._jobs.put(lambda: self._expire(before_ms))

    def acknowledged(self, messages: list[Outbound]) -> None:
        """The recipient's TCP stack acknowledged ``messages``: kept ones leave the mailbox."""
        ids = [message.mail_id for message in messages if message.mail_id is not None]
        if not ids:
            return
        self._counters.inc("mail_delivered", len(ids))
        self._acked.extend(ids)
        if not self._ack_queued:
            self._ack_queued = self._jobs.put(self._mark_acked)  # refused: marked with the next

    async def _mark_acked(self) -> None:
        ids, self._acked, self._ack_queued = self._acked, [], False
        store = self._store()
        if store is not None and ids:
            await store.mark_delivered(ids, self._now_ms())

    def returned(self, uid: str, messages: list[Outbound]) -> None:
        """A connection of ``uid`` ended with ``messages`` not acknowledged: keep them again, in order.

        Kept ones are still undelivered in the store; the others are kept now (or handed to
        a newer connection of the same device)."""
        fresh = [message for message in messages if message.mail_id is None]
        if not fresh:
            return
        self._counters.inc("mail_returned", len(fresh))
        log.info("mailbox: %d unacknowledged messages for %s kept again", len(fresh), uid)
        for message in fresh:
            waiting = self._collecting.get(uid)
            subscriber = self._router.registry.by_uid(uid)
            if waiting is not None:
                waiting.append(message)
            elif subscriber is not None and subscriber.receives:
                subscriber.deliver(message)
            else:
                self._deposit(uid, message.xml, message, None)

    def _release(self, uid: str, subscriber: Subscriber) -> None:
        """End a collection: messages that arrived meanwhile go out now (or into the mailbox)."""
        waiting = self._collecting.pop(uid, [])
        subscriber.held = None
        for message in waiting:
            if self._router.registry.by_uid(uid) is subscriber:
                subscriber.deliver(message)
            else:
                self._deposit(uid, message.xml, message, None)


def _tell(sender: Subscriber, event: Event, answer: str, reason: str | None) -> None:
    """Answer a chat to its sender with the chat itself, retyped (how TAK clients match it)."""
    sender.deliver(Outbound(event._replace(type=answer), directed=True))
    if answer == types.CHAT_DELIVERY_FAILURE:
        log.info("chat %s from %s answered %s (%s)", event.uid, describe(sender), answer, reason)

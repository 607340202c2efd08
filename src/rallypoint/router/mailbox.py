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
in pages of :data:`MAIL_PAGE` and handed to it oldest first; an item is marked delivered
only when the connection reports that the device's TCP stack acknowledged its bytes
(``rallypoint.transport.acks``). When a connection ends, every returnable message it had
not had acknowledged comes back here (:meth:`Mailbox.returned`) and is kept again, in order.
Duplicates are possible only for messages that did reach the device but whose
acknowledgement the server had not seen yet (a reset, a kill -9): they carry the same
event uid, so the device can recognise them. Directed messages for that device routed while its mail is read
wait behind the mail (``Subscriber.held``), so a fresh message never overtakes an old one.

All store work runs on one :class:`~rallypoint.router.jobs.JobQueue` in submission order:
the store's ids are the delivery order.
"""

import contextlib
import logging
from collections.abc import Callable
from typing import NamedTuple

from rallypoint.cot import types
from rallypoint.cot.event import Event
from rallypoint.cot.xml import XmlLimits, parse_event
from rallypoint.errors import ProtocolError, StoreError
from rallypoint.router.jobs import JobQueue
from rallypoint.router.message import Outbound
from rallypoint.router.registry import Subscriber
from rallypoint.router.router import Router, describe
from rallypoint.router.stats import Counters
from rallypoint.store.base import MailDraft, Store

log = logging.getLogger(__name__)

MAX_QUEUED_WRITES = 100_000
"""Mail not yet written to the store at most; past it new mail is refused, answered and counted."""

BATCH_MAX_MAIL = 1000
"""Messages per transaction: large enough to amortise the commit, small enough to keep it short."""

MAIL_PAGE = 1000
"""Kept messages read and handed over per step when a device returns (all pages are read)."""

MAX_MAIL_PER_RECIPIENT = 100_000
"""Undelivered messages kept for one device at most: past it new mail for that device is refused
(``mail_lost{reason=recipient_limit}``) and each chat's sender is answered ``b-t-f-s``, so one
device left offline, or a flood aimed at it, cannot fill the disk for everyone."""

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


class Mailbox:
    """The server's store-and-forward service (see the module docstring)."""

    def __init__(
        self,
        router: Router,
        store: Callable[[], Store | None],
        now_ms: Callable[[], int],
        limits: XmlLimits,
        max_per_recipient: int = MAX_MAIL_PER_RECIPIENT,
    ) -> None:
        self._router = router
        self._store = store
        self._now_ms = now_ms
        self._limits = limits
        self._max_per_recipient = max_per_recipient
        self._counters: Counters = router.counters
        self._jobs = JobQueue("rallypoint-mailbox", MAX_QUEUED_JOBS, (StoreError,), self._store_failed)
        self._batch: list[_Deposit] = []
        """Deposits waiting for the next group commit (one job is queued while it is not empty)."""
        self._collecting: dict[str, list[Outbound]] = {}
        """Uids whose mail is being read: live messages for them wait here, behind the mail."""
        self._acked: list[int] = []
        """Kept messages acknowledged by their recipient, to be marked delivered by the next job."""
        self._ack_queued = False
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

    def send_to(self, uid: str, event: Event) -> bool:
        """Deliver ``event`` to the client with device uid ``uid`` now, or keep it (see :data:`SendTo`)."""
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
        self._deposit(uid, message.xml, message, None)
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
    ) -> bool:
        deposit = _Deposit(MailDraft(uid, self._now_ms(), xml), message, sender, limited)
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
        """The deposits that fit their recipient's limit, in order; the others are refused."""
        limited = {deposit.draft.recipient for deposit in batch if deposit.limited}
        waiting = {recipient: await store.mail_count(recipient) for recipient in limited}
        kept: list[_Deposit] = []
        refused: list[_Deposit] = []
        for deposit in batch:
            recipient = deposit.draft.recipient
            if deposit.limited and waiting[recipient] >= self._max_per_recipient:
                refused.append(deposit)
                continue
            kept.append(deposit)
            if recipient in waiting:
                waiting[recipient] += 1
        if refused:
            self._fail(refused, "recipient_limit")
        return kept

    def _fail(self, deposits: list[_Deposit], reason: str) -> None:
        """Mail that will not be kept: counted, logged, and each chat's sender told ``b-t-f-s``."""
        self._counters.inc(f"mail_lost{{reason={reason}}}", len(deposits))
        log.warning(
            "mailbox: %d messages not kept (%s), first for %s",
            len(deposits),
            reason,
            deposits[0].draft.recipient,
        )
        self._answer(deposits, types.CHAT_DELIVERY_FAILURE)

    def _answer(self, deposits: list[_Deposit], answer: str) -> None:
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
            sender.deliver(Outbound(message.event._replace(type=answer), directed=True))
            if answer == types.CHAT_DELIVERY_FAILURE:
                log.info("chat %s from %s answered %s", message.event.uid, describe(sender), answer)

    def _client_bound(self, subscriber: Subscriber) -> None:
        uid = subscriber.uid
        if uid is None or not subscriber.receives or self._store() is None or uid in self._collecting:
            return
        held: list[Outbound] = []
        self._collecting[uid] = held
        subscriber.held = held
        if not self._jobs.put(lambda: self._collect(subscriber, uid)):
            self._counters.inc("mail_refused")
            self._release(uid, subscriber)

    def _store_failed(self, exc: Exception) -> None:
        self._counters.inc("mail_store_errors")
        self.last_error = f"mail not read: {exc}"
        log.error("mailbox: %s", exc)

    async def _collect(self, subscriber: Subscriber, uid: str) -> None:
        try:
            await self._deliver_kept(subscriber, uid)
        finally:
            self._release(uid, subscriber)

    async def _deliver_kept(self, subscriber: Subscriber, uid: str) -> None:
        """Hand every kept message to ``subscriber``, page by page, oldest first.

        Items stay undelivered in the store until the connection reports them acknowledged
        (:meth:`acknowledged`); only unreadable ones are marked at once."""
        total, after = 0, 0
        while True:
            store = self._store()
            if store is None:
                return
            items = await store.mail_for(uid, after_id=after, limit=MAIL_PAGE)
            if self._router.registry.by_uid(uid) is not subscriber:
                return  # gone again before its mail was read: keep it
            unreadable: list[int] = []
            for item in items:
                after = item.id
                try:
                    event = parse_event(item.xml, self._limits)
                except ProtocolError as exc:
                    log.warning("mailbox: stored message %d for %s unreadable: %s", item.id, uid, exc)
                    unreadable.append(item.id)
                    continue
                subscriber.deliver(Outbound(event, item.xml, directed=True, returnable=True, mail_id=item.id))
            total += len(items)
            if unreadable:
                await store.mark_delivered(unreadable, self._now_ms())
            if len(items) < MAIL_PAGE:
                break
        self.last_error = None
        if total:
            log.info("mailbox: %d kept messages handed to %s", total, uid)

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

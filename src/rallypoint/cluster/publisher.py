"""Publishing to the cluster's JetStream stream, acknowledged, in batches, several in flight.

A node must not tell a sender its directed message is accepted (``b-t-f-p``) before the
message is somewhere that outlives the node: the shared mailbox (a PostgreSQL commit) or the
stream. Every event routed here is queued; one task publishes the queue in order, on core
NATS, in batches of up to :data:`PUBLISH_BATCH`, each message with its own reply subject.
Up to :data:`MAX_BATCHES_IN_FLIGHT` batches await JetStream's acknowledgements at once, so
the stream's round trip (a file-store write per batch) overlaps the next batches instead of
stopping the queue behind each one. Batches leave the queue, and their ``on_stored``
callbacks run, only once wholly acknowledged (stored, or a duplicate of a stored one) and
strictly in queue order: a later batch acknowledged first waits for the ones before it.
Publishing in queue order on one connection keeps every sender's order in the stream.

A head batch not fully acknowledged within :data:`ACK_TIMEOUT_S` (NATS gone, restarted
without its store), or refused, ends the window: every batch in flight is published again
from the head's first unacknowledged message. Each carries its ``Nats-Msg-Id``, so JetStream
stores a republished one once, and receiving nodes drop ids seen already.
"""

import asyncio
import contextlib
import itertools
import json
import logging
from collections import deque
from collections.abc import Callable
from typing import Any, NamedTuple

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg

from rallypoint.router.stats import Counters

log = logging.getLogger(__name__)

PUBLISH_BATCH = 512
"""Messages published as one batch, whose acknowledgements are awaited together."""
MAX_BATCHES_IN_FLIGHT = 8
"""Batches published and not yet acknowledged at once: enough to keep JetStream busy while
earlier acknowledgements travel back, few enough that a NATS which stops answering leaves at
most this many batches (4 096 messages) to publish again."""
ACK_TIMEOUT_S = 5.0
"""How long a batch's acknowledgements are awaited before the window is published again."""
RETRY_WAIT_S = 1.0
"""Pause before publishing again after NATS refused or lost a batch."""
MAX_ATTEMPTS = 30
"""Refusals of the message at the head before it is given up (counted): a message JetStream will
never store (too large for the stream) must not hold back everything behind it."""
MAX_QUEUED_PUBLISHES = 100_000
"""Events routed here and not yet stored by JetStream; past it new ones are not shared (counted)."""


class Queued(NamedTuple):
    """One message waiting for the stream."""

    payload: bytes
    headers: dict[str, str]
    on_stored: Callable[[], None] | None
    """Run once JetStream acknowledged it (a sender waiting for ``b-t-f-p``); quick, no raising."""


class StreamRefused(Exception):
    """JetStream answered a publish with an error (no stream, limits): not stored."""

    stored = 0
    """How many messages of the batch before the refused one were stored."""


class _Batch:
    """One published batch and the acknowledgements it still waits for."""

    __slots__ = ("acked", "deadline", "done", "tokens", "unacked")

    def __init__(self, tokens: list[str], done: "asyncio.Future[None]") -> None:
        self.tokens = tokens
        self.acked = [False] * len(tokens)
        self.unacked = len(tokens)
        self.done = done
        """Resolved when every message is acknowledged; :class:`StreamRefused` if one was refused."""
        self.deadline = float("inf")
        """Loop time by which it must be acknowledged (set once all of it is published)."""

    def stored(self) -> int:
        """How many messages at the head of the batch are acknowledged."""
        return next((n for n, acked in enumerate(self.acked) if not acked), len(self.acked))


def _still_wanted() -> None:
    """Raise :class:`asyncio.CancelledError` if this task was cancelled: the NATS client's
    ``publish`` swallows a cancellation that reaches it while its flush queue is full."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


class Publisher:
    """The acknowledged, batched publishing queue of one node (see the module docstring)."""

    def __init__(self, subject: str, counters: Counters, name: str = "cluster") -> None:
        self._subject = subject
        self._counters = counters
        self._name = name
        """What its counters and log lines are called (``cluster``, ``federation``)."""
        self._queue: deque[Queued] = deque()
        """Every message not yet acknowledged, in order; the first :attr:`_sent` are in flight."""
        self._queued = asyncio.Event()
        self._flight: deque[_Batch] = deque()
        self._sent = 0
        self._waiting: dict[str, tuple[_Batch, int]] = {}
        """Reply subject -> the batch in flight and the message's place in it."""
        self._tokens = itertools.count(1).__next__
        self._inbox = ""
        self._refusals = 0
        """How often the message at the head was refused in a row."""

    def __len__(self) -> int:
        return len(self._queue)

    @property
    def in_flight(self) -> int:
        """Batches published and awaiting their acknowledgements."""
        return len(self._flight)

    def put(self, item: Queued) -> bool:
        """Queue ``item`` (never blocks); False, counted, when the queue is full."""
        if len(self._queue) >= MAX_QUEUED_PUBLISHES:
            self._counters.inc(f"{self._name}_dropped{{reason=queue_full}}")
            return False
        self._queue.append(item)
        self._queued.set()
        return True

    async def attach(self, nc: Client) -> None:
        """Listen for acknowledgements on an inbox of ``nc`` (the client renews it on reconnection)."""
        self._inbox = nc.new_inbox()
        await nc.subscribe(f"{self._inbox}.*", cb=self._acknowledged)

    async def run(self, nc: Client, connected: asyncio.Event) -> None:
        """Publish the queue, in order, for as long as the node runs."""
        while True:
            _still_wanted()
            if not self._queue:
                self._queued.clear()
                await self._queued.wait()
                continue
            await connected.wait()
            try:
                try:
                    await self._pump(nc)
                finally:
                    self._abandon()
            except StreamRefused as exc:
                self._retire(exc.stored)
                self._refused(exc)
                if not exc.stored:
                    await asyncio.sleep(RETRY_WAIT_S)
            except (nats.errors.Error, TimeoutError) as exc:
                log.warning("%s: publish not acknowledged, trying again: %s", self._name, exc)
                await asyncio.sleep(RETRY_WAIT_S)

    async def _pump(self, nc: Client) -> None:
        """Keep the window of batches full and retire the oldest once acknowledged, until the
        queue is empty; raises what ended the oldest batch (refused, not acknowledged in time)."""
        loop = asyncio.get_running_loop()
        while self._queue:
            while len(self._flight) < MAX_BATCHES_IN_FLIGHT and self._sent < len(self._queue):
                await self._publish_batch(nc, loop)
            head = self._flight[0]
            await self._next_change(head, loop)
            if not head.done.done():
                continue
            self._flight.popleft()
            self._forget(head)
            head.done.result()  # StreamRefused: the window is published again from its first unstored
            self._sent -= len(head.tokens)
            self._retire(len(head.tokens))

    async def _next_change(self, head: _Batch, loop: asyncio.AbstractEventLoop) -> None:
        """Wait until ``head`` is answered or, while the window has room, more is queued."""
        remaining = head.deadline - loop.time()
        if remaining <= 0:
            raise TimeoutError(f"no acknowledgement within {ACK_TIMEOUT_S:g} s")
        waiters: set[asyncio.Future[Any]] = {head.done}
        more = None
        if len(self._flight) < MAX_BATCHES_IN_FLIGHT and self._sent == len(self._queue):
            self._queued.clear()
            more = asyncio.ensure_future(self._queued.wait())
            waiters.add(more)
        try:
            await asyncio.wait(waiters, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if more is not None:
                more.cancel()

    async def _publish_batch(self, nc: Client, loop: asyncio.AbstractEventLoop) -> None:
        """Publish the next up to :data:`PUBLISH_BATCH` messages not yet in flight, as one batch."""
        items = list(itertools.islice(self._queue, self._sent, self._sent + PUBLISH_BATCH))
        batch = _Batch([f"{self._inbox}.{self._tokens()}" for _ in items], loop.create_future())
        self._flight.append(batch)
        self._sent += len(items)
        for index, token in enumerate(batch.tokens):
            self._waiting[token] = (batch, index)
        for item, token in zip(items, batch.tokens, strict=True):
            await nc.publish(self._subject, item.payload, reply=token, headers=item.headers)
            _still_wanted()
        batch.deadline = loop.time() + ACK_TIMEOUT_S

    def _retire(self, count: int) -> None:
        """The first ``count`` queued messages are stored: off the queue, their senders told."""
        if not count:
            return
        self._refusals = 0
        for _ in range(count):
            item = self._queue.popleft()
            if item.on_stored is not None:
                item.on_stored()
        self._counters.inc(f"{self._name}_published", count)

    def _forget(self, batch: _Batch) -> None:
        for token in batch.tokens:
            self._waiting.pop(token, None)

    def _abandon(self) -> None:
        """Give up every batch in flight: what is still queued is published again from the head."""
        for batch in self._flight:
            self._forget(batch)
            if not batch.done.done():
                batch.done.cancel()
            elif not batch.done.cancelled():
                batch.done.exception()  # retrieved: a refusal behind the head is not worth a warning
        self._flight.clear()
        self._sent = 0

    def _refused(self, exc: "StreamRefused") -> None:
        if exc.stored:
            return  # the refused one is at the head now: tried again at once
        self._refusals += 1
        if self._refusals < MAX_ATTEMPTS:
            log.warning("%s: JetStream refused an event, trying again: %s", self._name, exc)
            return
        self._refusals = 0
        self._queue.popleft()
        self._counters.inc(f"{self._name}_dropped{{reason=publish_failed}}")
        log.warning("%s: event not shared after %d refusals: %s", self._name, MAX_ATTEMPTS, exc)

    async def _acknowledged(self, msg: Msg) -> None:
        entry = self._waiting.pop(msg.subject, None)
        if entry is None:
            return  # a batch given up on: its messages are published again
        batch, index = entry
        if batch.done.done():
            return
        refusal = _refusal(msg)
        if refusal is not None:
            refusal.stored = batch.stored()
            batch.done.set_exception(refusal)
            return
        batch.acked[index] = True
        batch.unacked -= 1
        if not batch.unacked:
            batch.done.set_result(None)

    async def flush_unacknowledged(self, nc: Client) -> None:
        """At stop: hand what is queued to NATS without waiting for acknowledgements."""
        for item in self._queue:
            with contextlib.suppress(nats.errors.Error):
                await nc.publish(self._subject, item.payload, headers=item.headers)


def _refusal(msg: Msg) -> StreamRefused | None:
    """What JetStream's answer to one publish says went wrong, or None if it stored it."""
    headers = msg.headers or {}
    if "Status" in headers:  # 503: no stream listens on the subject (NATS lost it)
        return StreamRefused(f"status {headers['Status']} {headers.get('Description', '')}")
    try:
        answer = json.loads(msg.data or b"{}")
    except ValueError:
        return StreamRefused("unreadable acknowledgement")
    if not isinstance(answer, dict):
        return StreamRefused("unreadable acknowledgement")
    error = answer.get("error")
    return StreamRefused(str(error)) if error else None

"""Publishing to the cluster's JetStream stream, acknowledged and in batches.

A node must not tell a sender its directed message is accepted (``b-t-f-p``) before the
message is somewhere that outlives the node: the shared mailbox (a PostgreSQL commit) or the
stream. Every event routed here is queued; one task takes up to :data:`PUBLISH_BATCH` from
the head, publishes them in order on core NATS, each with its own reply subject, and waits
for JetStream's acknowledgements of the whole batch (stored, or a duplicate of a stored one).
Only then are they taken off the queue and their ``on_stored`` callbacks run. A batch not
fully acknowledged within :data:`ACK_TIMEOUT_S` (NATS gone, restarted without its store) is
published again from its first unacknowledged message: each carries its ``Nats-Msg-Id``, so
JetStream stores a republished one once, and receiving nodes drop ids seen already.
"""

import asyncio
import contextlib
import itertools
import json
import logging
from collections import deque
from collections.abc import Callable
from typing import NamedTuple

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg

from rallypoint.router.stats import Counters

log = logging.getLogger(__name__)

PUBLISH_BATCH = 512
"""Messages published before their acknowledgements are awaited: one round trip per batch."""
ACK_TIMEOUT_S = 5.0
"""How long a batch's acknowledgements are awaited before its rest is published again."""
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


def _still_wanted() -> None:
    """Raise :class:`asyncio.CancelledError` if this task was cancelled: the NATS client's
    ``publish`` swallows a cancellation that reaches it while its flush queue is full."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


class Publisher:
    """The acknowledged, batched publishing queue of one node (see the module docstring)."""

    def __init__(self, subject: str, counters: Counters) -> None:
        self._subject = subject
        self._counters = counters
        self._queue: deque[Queued] = deque()
        self._queued = asyncio.Event()
        self._waiting: dict[str, asyncio.Future[None]] = {}
        self._tokens = itertools.count(1).__next__
        self._inbox = ""
        self._refusals = 0
        """How often the message at the head was refused in a row."""

    def __len__(self) -> int:
        return len(self._queue)

    def put(self, item: Queued) -> bool:
        """Queue ``item`` (never blocks); False, counted, when the queue is full."""
        if len(self._queue) >= MAX_QUEUED_PUBLISHES:
            self._counters.inc("cluster_dropped{reason=queue_full}")
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
            await self._queued.wait()
            self._queued.clear()
            while self._queue:
                await connected.wait()
                stored = 0
                try:
                    stored = await self._publish_batch(nc)
                except StreamRefused as exc:
                    stored = exc.stored
                    self._refused(exc)
                    if not stored:
                        await asyncio.sleep(RETRY_WAIT_S)
                except (nats.errors.Error, TimeoutError) as exc:
                    log.warning("cluster: publish not acknowledged, trying again: %s", exc)
                    await asyncio.sleep(RETRY_WAIT_S)
                if stored:
                    self._refusals = 0
                for _ in range(stored):
                    item = self._queue.popleft()
                    if item.on_stored is not None:
                        item.on_stored()
                self._counters.inc("cluster_published", stored)

    def _refused(self, exc: "StreamRefused") -> None:
        if exc.stored:
            return  # the refused one is at the head now: tried again at once
        self._refusals += 1
        if self._refusals < MAX_ATTEMPTS:
            log.warning("cluster: JetStream refused an event, trying again: %s", exc)
            return
        self._refusals = 0
        self._queue.popleft()
        self._counters.inc("cluster_dropped{reason=publish_failed}")
        log.warning("cluster: event not shared after %d refusals: %s", MAX_ATTEMPTS, exc)

    async def _publish_batch(self, nc: Client) -> int:
        """Publish the head of the queue and wait until JetStream stored all of it; how many.

        :class:`StreamRefused` (with how many before it were stored) if JetStream refused one."""
        batch = list(itertools.islice(self._queue, PUBLISH_BATCH))
        loop = asyncio.get_running_loop()
        tokens: list[str] = []
        try:
            for item in batch:
                token = f"{self._inbox}.{self._tokens()}"
                self._waiting[token] = loop.create_future()
                tokens.append(token)
                await nc.publish(self._subject, item.payload, reply=token, headers=item.headers)
                _still_wanted()
            async with asyncio.timeout(ACK_TIMEOUT_S):
                for stored, token in enumerate(tokens):
                    try:
                        await self._waiting[token]
                    except StreamRefused as exc:
                        exc.stored = stored
                        raise
        finally:
            for token in tokens:
                future = self._waiting.pop(token)
                if not future.done():
                    future.cancel()
        return len(batch)

    async def _acknowledged(self, msg: Msg) -> None:
        future = self._waiting.get(msg.subject)
        if future is None or future.done():
            return  # a batch given up on: its messages are published again
        headers = msg.headers or {}
        if "Status" in headers:  # 503: no stream listens on the subject (NATS lost it)
            future.set_exception(
                StreamRefused(f"status {headers['Status']} {headers.get('Description', '')}")
            )
            return
        try:
            answer = json.loads(msg.data or b"{}")
        except ValueError:
            answer = {"error": "unreadable acknowledgement"}
        error = answer.get("error") if isinstance(answer, dict) else "unreadable acknowledgement"
        if error:
            future.set_exception(StreamRefused(str(error)))
        else:
            future.set_result(None)

    async def flush_unacknowledged(self, nc: Client) -> None:
        """At stop: hand what is queued to NATS without waiting for acknowledgements."""
        for item in self._queue:
            with contextlib.suppress(nats.errors.Error):
                await nc.publish(self._subject, item.payload, headers=item.headers)

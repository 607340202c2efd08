"""The single writer both stores share: a bounded queue drained by one task, in batches.

The router records events on the event loop at tens of thousands a second; a database
transaction per event would cap that at a few hundred. :meth:`BatchWriter.record` appends
to a deque (no await, no lock); one task takes everything queued (up to
:data:`BATCH_MAX_ROWS`) and commits it in one transaction while the next batch
accumulates. An idle writer commits a lone event at once, so nothing waits for a timer:
the delay from ``record`` to commit is one transaction (milliseconds) plus the queue ahead.
"""

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from rallypoint.errors import StoreError
from rallypoint.store.base import StoredEvent

log = logging.getLogger(__name__)

BATCH_MAX_ROWS = 1000
"""Rows per transaction: large enough to amortise the commit, small enough to keep one short."""

ERROR_LOG_INTERVAL_S = 60.0
"""A database that stays down is reported once a minute, not once a batch."""

Commit = Callable[[list[StoredEvent]], Awaitable[None]]


class BatchWriter:
    """Owns the queue and the writer task; the store supplies ``commit`` (one transaction)."""

    def __init__(self, commit: Commit, max_queued: int) -> None:
        self._commit = commit
        self.max_queued = max_queued
        """Events waiting at most: past it :meth:`record` refuses (memory stays bounded if disks stall)."""
        self._queue: collections.deque[StoredEvent] = collections.deque()
        self._wakeup = asyncio.Event()
        self._progress = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self._accepting = False
        self._last_error_log = -ERROR_LOG_INTERVAL_S
        self.recorded = 0
        self.done = 0
        """Events taken out of the queue and committed (or lost to a failed commit)."""
        self.dropped = 0
        """Refused because the queue was full or the store closed."""
        self.failed = 0
        """Lost to a failed transaction."""
        self.transactions = 0
        self.last_error: str | None = None
        """Why the last transaction failed; None once one commits again."""

    def start(self) -> None:
        """Start the writer task (on the running loop)."""
        self._accepting = True
        self._task = asyncio.create_task(self._run(), name="rallypoint-store-writer")

    def record(self, event: StoredEvent) -> bool:
        """Queue ``event``; False when the queue is full or the writer is stopped."""
        queue = self._queue
        if not self._accepting or len(queue) >= self.max_queued:
            self.dropped += 1
            return False
        queue.append(event)
        self.recorded += 1
        if len(queue) == 1:
            self._wakeup.set()
        return True

    def lag(self) -> int:
        """Events recorded and not yet committed."""
        return self.recorded - self.done

    async def flush(self) -> None:
        """Wait until everything recorded before this call has been through a transaction."""
        target = self.recorded
        if self._task is None or self._task.done():
            return
        async with self._progress:
            await self._progress.wait_for(lambda: self.done >= target)

    async def stop(self) -> None:
        """Refuse new events, commit those queued, end the task."""
        self._accepting = False
        await self.flush()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        queue = self._queue
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while queue:
                batch = [queue.popleft() for _ in range(min(len(queue), BATCH_MAX_ROWS))]
                await self._commit_batch(batch)
                self.done += len(batch)
                async with self._progress:
                    self._progress.notify_all()

    async def _commit_batch(self, batch: list[StoredEvent]) -> None:
        try:
            await self._commit(batch)
        except StoreError as exc:
            self.failed += len(batch)
            self.last_error = str(exc)
            now = time.monotonic()
            if now - self._last_error_log >= ERROR_LOG_INTERVAL_S:
                self._last_error_log = now
                log.error("store: %d events lost (%d in all): %s", len(batch), self.failed, exc)
        else:
            self.transactions += 1
            self.last_error = None


class WrittenInBatches:
    """The event-recording half of :class:`rallypoint.store.base.EventStore`, for a store
    whose events go through its :attr:`writer`."""

    writer: BatchWriter

    def record(self, event: StoredEvent) -> bool:
        """Queue ``event`` for the writer (never blocks)."""
        return self.writer.record(event)

    async def flush(self) -> None:
        """Wait for everything recorded so far to be committed."""
        await self.writer.flush()

    def lag(self) -> int:
        """Events queued, not yet committed."""
        return self.writer.lag()

    def write_health(self) -> tuple[int, str | None]:
        """Events lost to failed transactions, and the last failure (None once one committed)."""
        return self.writer.failed, self.writer.last_error

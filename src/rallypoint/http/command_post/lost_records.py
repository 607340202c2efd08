"""The lost units of the command post, kept in the store so that a restart does not forget them.

The live hub's :class:`~rallypoint.http.command_post.lost.LostBoard` is in memory; a server
restart used to wipe it, and with it the last known positions a search is planned from. The
hub tells a :class:`LostKeeper` of every unit lost, found or forgotten; the keeper writes
those changes to the store's ``lost_units`` table in order, from one task it owns, off the
routing path. At start :func:`restore_lost` reads the table back into the board.

A store that fails is logged and the change dropped: the page still shows the unit, only a
restart would forget it.
"""

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable

from rallypoint.cot.xml import XmlLimits, parse_event
from rallypoint.errors import ProtocolError, StoreError
from rallypoint.http.command_post.lost import LostBoard
from rallypoint.router.stats import Counters
from rallypoint.store.base import LostRecord, LostStore

log = logging.getLogger(__name__)

MAX_PENDING_CHANGES = 20_000
"""Changes waiting for the store; twice the board's size. Past it the oldest is dropped (counted)."""

Change = LostRecord | str
"""A unit to keep, or the uid of one to forget."""


class LostKeeper:
    """Writes the board's changes to the store, in the order they happened."""

    def __init__(
        self, store: Callable[[], LostStore | None], counters: Counters, limit: int = MAX_PENDING_CHANGES
    ) -> None:
        self._store = store
        self._counters = counters
        self._limit = limit
        self._pending: deque[Change] = deque()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None

    def keep(self, record: LostRecord) -> None:
        self._offer(record)

    def forget(self, uid: str) -> None:
        self._offer(uid)

    def _offer(self, change: Change) -> None:
        if self._store() is None:
            return
        if len(self._pending) >= self._limit:
            self._pending.popleft()
            self._counters.inc("web_lost_writes_dropped")
        self._pending.append(change)
        self._idle.clear()
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="rallypoint-lost-units")

    async def flushed(self) -> None:
        """Return once every change offered so far is written (or failed)."""
        await self._idle.wait()

    async def stop(self) -> None:
        """Write what is pending, then end the task."""
        if self._task is None:
            return
        await self.flushed()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                await self._write(self._pending.popleft())
            self._idle.set()

    async def _write(self, change: Change) -> None:
        store = self._store()
        if store is None:
            return
        try:
            if isinstance(change, str):
                await store.drop_lost([change])
            else:
                await store.put_lost(change)
        except StoreError as exc:
            self._counters.inc("web_lost_writes_failed")
            log.warning("lost unit not kept in the store: %s", exc)


async def restore_lost(board: LostBoard, store: LostStore, limits: XmlLimits) -> int:
    """Put the units kept in ``store`` back on ``board``; return how many."""
    restored = 0
    for record in await store.lost_units():
        try:
            event = parse_event(record.xml, limits)
        except ProtocolError as exc:
            log.warning("lost unit %s not restored: %s", record.uid, exc)
            continue
        board.lose(event, record.groups, record.reason, record.since)
        restored += 1
    return restored

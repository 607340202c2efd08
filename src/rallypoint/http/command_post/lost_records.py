"""The lost units of the command post, kept in the store so that a restart does not forget them.

The live hub's :class:`~rallypoint.http.command_post.lost.LostBoard` is in memory; a server
restart used to wipe it, and with it the last known positions a search is planned from. The
hub tells a :class:`LostKeeper` of every unit lost, found or forgotten; the keeper writes
those changes to the store's ``lost_units`` table in order, from one task it owns, off the
routing path. At start :func:`restore_lost` reads the table back into the board.

A store that fails is logged and the change dropped: the page still shows the unit, only a
restart would forget it.
"""

import functools
import logging
from collections.abc import Callable

from rallypoint.cot.xml import XmlLimits, parse_event
from rallypoint.errors import ProtocolError, StoreError
from rallypoint.http.command_post.lost import LostBoard
from rallypoint.router.jobs import JobQueue
from rallypoint.router.stats import Counters
from rallypoint.store.base import LostRecord, LostStore

log = logging.getLogger(__name__)

MAX_PENDING_CHANGES = 20_000
"""Changes waiting for the store; twice the board's size. Past it a new change is refused (counted)."""

Change = LostRecord | str
"""A unit to keep, or the uid of one to forget."""


class LostKeeper:
    """Writes the board's changes to the store, in the order they happened."""

    def __init__(
        self, store: Callable[[], LostStore | None], counters: Counters, limit: int = MAX_PENDING_CHANGES
    ) -> None:
        self._store = store
        self._counters = counters
        self._jobs = JobQueue("rallypoint-lost-units", limit, (StoreError,), self._failed)

    def keep(self, record: LostRecord) -> None:
        self._offer(record)

    def forget(self, uid: str) -> None:
        self._offer(uid)

    def _offer(self, change: Change) -> None:
        if self._store() is None:
            return
        if not self._jobs.put(functools.partial(self._write, change)):
            self._counters.inc("web_lost_writes_dropped")

    def start(self) -> None:
        self._jobs.start()

    async def flushed(self) -> None:
        """Return once every change offered so far is written (or failed)."""
        await self._jobs.drain()

    async def stop(self) -> None:
        """Write what is pending, then end the task."""
        await self._jobs.stop()

    async def _write(self, change: Change) -> None:
        store = self._store()
        if store is None:
            return
        if isinstance(change, str):
            await store.drop_lost([change])
        else:
            await store.put_lost(change)

    def _failed(self, exc: Exception) -> None:
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

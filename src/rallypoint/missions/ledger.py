"""The one path every mission change takes: check, journal, apply, announce, under one lock.

The :class:`MissionLedger` owns the state (:class:`MissionBook`), the lock that orders
changes, the journal writes and the job queue that runs work taken off the routing path.
The service, the objective desk and the field watch are each handed the ledger; none of
them holds another, so the parts of the mission component form no circle.

In cluster mode the journal (PostgreSQL) is shared and is the one order of changes: the book
of each node is a replica that applies the entries in id order. Taking the lock
(:meth:`MissionLedger.locked`) first applies what other nodes appended, so a change is checked
against the latest state; a commit applies the entries before its own, then its own. Two nodes
may still both pass their check in the same instant: the later entry then does not apply (on
every node alike, as at replay) and its caller is told :class:`MissionConflict`. Entries from
other nodes are echoed, not announced: their node sent the notifications by device uid (which
cross the bus), this one tells only its own clients and listeners.
"""

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from rallypoint.errors import MissionConflict, MissionError, MissionNotFound, MissionsUnavailable, StoreError
from rallypoint.missions.access import Actor, authorize, find
from rallypoint.missions.book import STREAM_PREFIX, MissionBook, stream_of
from rallypoint.missions.journal_pages import entries_after
from rallypoint.missions.model import NEVER_EXPIRES, Applied, Mission
from rallypoint.router.host import Host
from rallypoint.router.jobs import Job, JobQueue
from rallypoint.store.base import JournalEntry, Store

log = logging.getLogger(__name__)

MAX_QUEUED_JOBS = 10_000
"""Jobs waiting for the worker at most; past it new ones are dropped and counted."""

Announce = Callable[[Applied, int], None]
"""Sends what an applied change calls for (:class:`rallypoint.missions.announce.Announcer`)."""


class MissionLedger:
    """State, lock, journal and job queue of the mission component."""

    def __init__(self, host: Host, book: MissionBook, announce: Announce, echo: Announce) -> None:
        self.host = host
        self.book = book
        self.lock = asyncio.Lock()
        """Held from the check to the announcement of every change."""
        self._announce = announce
        self._echo = echo
        self.applied_id = 0
        """The id of the last journal entry applied to the book (replayed, committed or caught up)."""
        self._catch_up_queued = False
        self._jobs = JobQueue("rallypoint-missions", MAX_QUEUED_JOBS, (MissionError,), self._refused)
        self.ready = False
        """The journal is replayed and the store open: changes are accepted."""

    # jobs

    def start_jobs(self) -> None:
        self._jobs.start()

    async def stop_jobs(self) -> None:
        await self._jobs.stop()

    async def drain(self) -> None:
        """Return once every queued job has run (tests, shutdown)."""
        await self._jobs.drain()

    def enqueue(self, job: Job) -> bool:
        """Run ``job`` after those queued before it; False (counted) when the queue is full."""
        if not self._jobs.put(job):
            self.host.counters.inc("mission_jobs_dropped")
            return False
        return True

    def _refused(self, exc: Exception) -> None:
        self.host.counters.inc("mission_field_refused")
        log.info("missions: %s", exc)

    # the shared journal (cluster mode)

    @contextlib.asynccontextmanager
    async def locked(self) -> AsyncIterator[None]:
        """Hold :attr:`lock`, with the book brought up to the shared journal first."""
        async with self.lock:
            await self._catch_up()
            yield

    def other_node_changed(self) -> None:
        """Another node appended mission entries: apply them soon (one queued catch-up at a time)."""
        if self._catch_up_queued or not self.ready:
            return
        self._catch_up_queued = True
        if not self.enqueue(self._queued_catch_up):
            self._catch_up_queued = False

    async def catch_up_now(self) -> None:
        """Another node said it appended mission entries: apply them before returning."""
        if not self.ready:
            return
        try:
            async with self.locked():
                pass
        except MissionError as exc:  # the store is away: the tick's catch-up reads them later
            self._refused(exc)

    async def _queued_catch_up(self) -> None:
        self._catch_up_queued = False
        async with self.locked():
            pass

    async def _catch_up(self, before: int | None = None) -> None:
        """Apply, in id order, the entries other nodes appended since :attr:`applied_id` (those
        below ``before`` only). Nothing to do unless the journal is shared."""
        if not self.host.notices.shared:
            return
        async for entry in entries_after(self.store(), STREAM_PREFIX, self.applied_id, before=before):
            self._apply_other(entry)

    def _apply_other(self, entry: JournalEntry) -> None:
        self.applied_id = entry.id
        try:
            body = json.loads(entry.body)
            applied = self.book.apply(entry, body) if isinstance(body, dict) else None
        except (ValueError, KeyError, TypeError, MissionError) as exc:
            log.info("missions: journal entry %d of another node not applied: %s", entry.id, exc)
            return
        if applied is not None:
            self.host.counters.inc("mission_changes_from_other_nodes")
            self._echo(applied, self.host.now_ms())

    # the change path

    def store(self) -> Store:
        store = self.host.store()
        if store is None or not self.ready:
            raise MissionsUnavailable("missions are unavailable: the store is closed")
        return store

    async def commit(self, guid: str, author: str, body: dict[str, Any]) -> Applied:
        """Journal one change and apply it; the caller holds :attr:`lock` and has checked it."""
        assert self.lock.locked()
        store = self.store()
        now = self.host.now_ms()
        text = json.dumps(body, separators=(",", ":"))
        stream = stream_of(guid)
        try:
            entry_id = await store.append_journal(stream, now, author, text)
        except StoreError as exc:
            raise MissionsUnavailable(f"the change could not be stored: {exc}") from exc
        self.host.notices.changed(STREAM_PREFIX)
        await self._catch_up(before=entry_id)
        self.applied_id = entry_id
        try:
            applied = self.book.apply(JournalEntry(entry_id, stream, now, author, text), body)
        except (KeyError, TypeError) as exc:  # checked against a state another node changed since
            raise MissionConflict(f"the mission changed on another node meanwhile: {exc}") from exc
        if applied is None:
            raise MissionConflict("the mission changed on another node meanwhile")
        self._announce(applied, now)
        return applied

    async def change(self, mission: Mission, actor: Actor, permission: str, body: dict[str, Any]) -> Applied:
        """Authorize ``actor`` for ``permission``, then commit ``body`` if the mission still exists."""
        uid = await self.authorize(mission, actor, permission)
        async with self.locked():
            if self.book.missions.get(mission.guid) is not mission:
                raise MissionConflict(f"mission {mission.name!r} was deleted meanwhile")
            return await self.commit(mission.guid, uid, body)

    # reading

    def visible_missions(self, actor: Actor, tool: str | None = None) -> list[Mission]:
        self.store()
        now = self.host.now_ms()
        return sorted(
            (
                m
                for m in self.book.missions.values()
                if not m.groups.isdisjoint(actor.groups)
                and (tool is None or m.tool == tool)
                and not expired(m, now)
            ),
            key=lambda m: m.name,
        )

    def find(self, actor: Actor, *, name: str | None = None, guid: str | None = None) -> Mission:
        self.store()
        mission = find(self.book, actor, name=name, guid=guid)
        if expired(mission, self.host.now_ms()):
            raise MissionNotFound(f"no mission {guid or name!r}")
        return mission

    async def authorize(self, mission: Mission, actor: Actor, permission: str) -> str:
        return await authorize(self.book, mission, actor, permission)


def expired(mission: Mission, now_ms: int) -> bool:
    """Past its expiration (epoch seconds): hidden at once, deleted by the next tick."""
    return mission.expiration != NEVER_EXPIRES and mission.expiration * 1000 <= now_ms

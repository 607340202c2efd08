"""The roll call component: asks the devices, hears their answers, raises the alarms.

Starting a roll call picks the devices of the device register that share a group with the
caller (and are of the team asked, if one is), journals the roll call, then sends each a
GeoChat request with ``send_to``: a connected device gets it at once, an offline one from its
durable mailbox when it returns. The router observer (:mod:`rollcall_watch`) takes positions
and check-ins (GeoChat or CoT replies) from traffic; check-ins are journaled by a job off the
routing path. The timer's tick raises the overdue alarm once per roll call (journaled, so a
restart does not raise it twice) and the no-position alarm for the members whose last
position became older than the roll call's N minutes, and tells the pages of both.

In cluster mode the journal (PostgreSQL) is shared, as for missions: every node's book is a
replica applying the roll call entries in id order. A node that appends an entry says so on
the bus (:class:`~rallypoint.router.notices.JournalNotices`); the others read what they have
not applied, and taking the lock (:meth:`RollCallService.locked`) first does the same, so a
roll call started on one node is listed, watched and answered on every node. Entries of other
nodes are echoed to this node's pages only: their node sent the chats (by uid, over the bus).
"""

import asyncio
import contextlib
import functools
import json
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from rallypoint.errors import (
    ConfigError,
    InvalidMissionRequest,
    MissionConflict,
    MissionError,
    MissionNotFound,
    MissionsUnavailable,
    StoreError,
)
from rallypoint.missions import rollcall as model
from rallypoint.missions.journal_pages import entries_after
from rallypoint.missions.notify import SERVER_CALLSIGN, alert_chat
from rallypoint.missions.rollcall import RollCall, RollCallBook, rollcall_json
from rallypoint.missions.rollcall_watch import RollCallWatch
from rallypoint.router.host import Host
from rallypoint.router.jobs import JobQueue
from rallypoint.store.base import JournalEntry, Store

log = logging.getLogger(__name__)

Listener = Callable[[frozenset[str], dict[str, Any]], None]
"""Told (roll call groups, message) after every change: the web live feed subscribes here."""

MAX_QUEUED_ANSWERS = 10_000
"""Check-ins waiting for the journal at most; past it they are dropped and counted."""
REPLAY_PAGE = 10_000
TICK_MS = 5_000
"""How often open roll calls are looked at when no deadline is nearer (positions going stale)."""


class RollCallService:
    """The server component for roll calls (see the module docstring)."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.book = RollCallBook()
        self.listeners: list[Listener] = []
        self.lock = asyncio.Lock()
        """Held from the check to the announcement of every change."""
        self._jobs = JobQueue("rallypoint-rollcall", MAX_QUEUED_ANSWERS, (MissionError,), self._refused)
        self.watch = RollCallWatch(host, self.book, self._jobs.put, self._answered)
        self._lost: dict[str, frozenset[str]] = {}
        """Per open roll call, the members without a position when the pages were last told."""
        self.default_no_position_min = host.settings.rollcall_no_position_minutes
        if not 1 <= self.default_no_position_min <= model.MAX_NO_POSITION_MIN:
            raise ConfigError(f"rollcall_no_position_minutes must be 1 to {model.MAX_NO_POSITION_MIN}")
        self.applied_id = 0
        """The id of the last journal entry applied to the book (replayed, committed or caught up)."""
        self._catch_up_queued = False
        self._overdue_elsewhere: set[str] = set()
        """Roll calls whose overdue alarm another node journaled: this node's timer does not."""
        self._unsubscribe: Callable[[], None] | None = None
        self.ready = False

    # lifecycle (Component)

    async def start(self) -> None:
        store = self.host.store()
        if store is None:
            log.warning("roll calls: no store, the roll call API answers 503")
            return
        after = 0
        while True:
            entries = await store.read_journal(model.STREAM_PREFIX, after_id=after, limit=REPLAY_PAGE)
            for entry in entries:
                self._replay(entry)
                self.applied_id = entry.id
            if len(entries) < REPLAY_PAGE:
                break
            after = entries[-1].id
        self._refresh_asked()
        self.ready = True
        self.host.router.server_names.update({self.host.settings.server_id, SERVER_CALLSIGN})
        self.host.router.observers.append(self.watch.observe)
        self._jobs.start()
        self._unsubscribe = self.host.notices.subscribe(model.STREAM_PREFIX, self.catch_up_now)
        log.info("roll calls: %d kept, %d open", len(self.book.rollcalls), len(self.book.open()))

    def _replay(self, entry: JournalEntry) -> RollCall | None:
        try:
            body = json.loads(entry.body)
            if isinstance(body, dict):
                return self.book.apply(entry.stream.removeprefix(model.STREAM_PREFIX), entry.time, body)
        except (ValueError, KeyError, TypeError) as exc:
            log.error("roll calls: journal entry %d of %s not applied: %s", entry.id, entry.stream, exc)
        return None

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        with contextlib.suppress(ValueError):
            self.host.router.observers.remove(self.watch.observe)
        await self._jobs.stop()
        self.ready = False

    async def drain(self) -> None:
        """Return once every queued answer is journaled (tests, shutdown)."""
        await self._jobs.drain()

    def tick(self, now_ms: int) -> int | None:
        """Raise the overdue alert of roll calls past their deadline and the no-position alarm of
        members whose position went stale; due again at the nearest deadline or after
        :data:`TICK_MS`."""
        if not self.ready:
            return None
        if self.host.notices.shared:
            self._other_node_changed()  # a notice lost while NATS was away: read anyway
        due = now_ms + TICK_MS
        for rollcall in self.book.open():
            if now_ms >= rollcall.deadline and not rollcall.overdue_raised and rollcall.waiting():
                rollcall.overdue_raised = True  # at once, so the next tick does not queue it again
                if not self._jobs.put(functools.partial(self._raise_overdue, rollcall)):
                    self.host.counters.inc("rollcall_alerts_dropped")
            elif now_ms < rollcall.deadline:
                due = min(due, rollcall.deadline)
            lost = self._lost_members(rollcall, now_ms)
            before = self._lost.get(rollcall.id)
            if lost != before:
                self._lost[rollcall.id] = lost
                self._tell(rollcall, now_ms)
                self._raise_no_position(rollcall, lost - (before or frozenset()))
        return due

    def _raise_no_position(self, rollcall: RollCall, newly: frozenset[str]) -> None:
        """Tell the pages which members have just gone N minutes without a position."""
        if not newly:
            return
        self.host.counters.inc("rollcall_no_position", len(newly))
        members = [rollcall.members[uid] for uid in sorted(newly)]
        alarm = {
            "type": "rollcall-no-position",
            "id": rollcall.id,
            "code": rollcall.code,
            "minutes": rollcall.no_position_ms // 60_000,
            "members": [m.callsign or m.uid for m in members],
        }
        self._notify(rollcall.groups, alarm)

    def _refused(self, exc: Exception) -> None:
        self.host.counters.inc("rollcall_answer_refused")
        log.info("roll calls: %s", exc)

    # the shared journal (cluster mode)

    @contextlib.asynccontextmanager
    async def locked(self) -> AsyncIterator[None]:
        """Hold :attr:`lock`, with the book brought up to the shared journal first."""
        async with self.lock:
            await self._catch_up()
            yield

    async def catch_up_now(self) -> None:
        """Another node said it appended roll call entries: apply them before returning."""
        if not self.ready:
            return
        try:
            async with self.locked():
                pass
        except MissionError as exc:  # the store is away: the tick's catch-up reads them later
            self._refused(exc)

    def _other_node_changed(self) -> None:
        """Queue one catch-up (at most one waits at a time), off the timer's path."""
        if self._catch_up_queued:
            return
        self._catch_up_queued = True
        if not self._jobs.put(self._queued_catch_up):
            self._catch_up_queued = False

    async def _queued_catch_up(self) -> None:
        self._catch_up_queued = False
        async with self.locked():
            pass

    async def _catch_up(self, before: int | None = None) -> None:
        """Apply, in id order, the entries other nodes appended since :attr:`applied_id` (those
        below ``before`` only). Nothing to do unless the journal is shared."""
        if not self.host.notices.shared:
            return
        changed = False
        try:
            async for entry in entries_after(
                self.store(), model.STREAM_PREFIX, self.applied_id, before=before
            ):
                self.applied_id = entry.id
                rollcall = self._replay(entry)
                if rollcall is not None:
                    changed = True
                    self._echo(rollcall, entry)
        finally:
            if changed:
                self._refresh_asked()

    def _echo(self, rollcall: RollCall, entry: JournalEntry) -> None:
        """Tell this node's pages of another node's change (its alarm too: pages are per node)."""
        self.host.counters.inc("rollcall_changes_from_other_nodes")
        now = self.host.now_ms()
        self._tell(rollcall, now)
        if '"op":"overdue"' in entry.body:
            self._overdue_elsewhere.add(rollcall.id)
            self._notify(rollcall.groups, self._overdue_alarm(rollcall, now))

    # reading

    def store(self) -> Store:
        store = self.host.store()
        if store is None or not self.ready:
            raise MissionsUnavailable("roll calls are unavailable: the store is closed")
        return store

    def visible(self, groups: frozenset[str]) -> list[RollCall]:
        """Roll calls sharing a group with ``groups``, newest first."""
        self.store()
        return [r for r in reversed(self.book.rollcalls.values()) if not r.groups.isdisjoint(groups)]

    def get(self, rollcall_id: str, groups: frozenset[str]) -> RollCall:
        """The roll call, if ``groups`` may see it (else :class:`MissionNotFound`, as if absent)."""
        self.store()
        rollcall = self.book.rollcalls.get(rollcall_id)
        if rollcall is None or rollcall.groups.isdisjoint(groups):
            raise MissionNotFound(f"no roll call {rollcall_id!r}")
        return rollcall

    def json(self, rollcall: RollCall, now: int | None = None) -> dict[str, Any]:
        return rollcall_json(rollcall, self.host.now_ms() if now is None else now, self.last_position)

    def last_position(self, uid: str) -> int | None:
        """The newest of the position this service saw and the one in the situation cache."""
        seen = self.watch.positions.get(uid)
        entry = self.host.router.cache.get(uid)
        cached = entry.message.event.time if entry is not None else None
        known = [t for t in (seen, cached) if t is not None]
        return max(known) if known else None

    # changes

    async def start_rollcall(
        self, author: str, groups: frozenset[str], team: str | None, deadline_s: int, no_position_min: int
    ) -> RollCall:
        """Ask every device of ``groups`` (of ``team``, if given) to check in."""
        self.store()
        members = self._scope(groups, team)
        if not members:
            raise InvalidMissionRequest(f"no device of {'team ' + team if team else 'your groups'} is known")
        async with self.locked():
            if len(self.book.open()) >= model.MAX_OPEN:
                raise MissionConflict(f"{model.MAX_OPEN} roll calls are open: cancel some first")
            body = {
                "op": "start",
                "groups": sorted(groups),
                "team": team,
                "author": author,
                "deadlineSeconds": deadline_s,
                "noPositionMinutes": no_position_min,
                "members": members,
            }
            rollcall_id = uuid.uuid4().hex
            rollcall = await self._commit(rollcall_id, author, body)
            assert rollcall is not None
        now = rollcall.started
        text, tag = model.request_text(rollcall), model.request_tag(rollcall)
        for uid in rollcall.members:
            self.host.send_to(uid, alert_chat(self.host.settings.server_id, uid, text, now, tag))
        self.host.counters.inc("rollcall_started")
        return rollcall

    def _scope(self, groups: frozenset[str], team: str | None) -> list[tuple[str, str | None, str | None]]:
        devices = [
            d
            for d in self.host.router.devices.devices()
            if not d.groups.isdisjoint(groups) and (team is None or d.team == team)
        ]
        if len(devices) > model.MAX_MEMBERS:
            raise InvalidMissionRequest(f"a roll call asks at most {model.MAX_MEMBERS} devices: name a team")
        return sorted((d.uid, d.callsign, d.team) for d in devices)

    async def cancel(self, rollcall: RollCall, author: str) -> RollCall:
        async with self.locked():
            if rollcall.state != model.OPEN:
                raise MissionConflict(f"roll call {rollcall.code} is {rollcall.state}")
            await self._commit(rollcall.id, author, {"op": "cancel"})
        text = model.cancel_text(rollcall)
        now = self.host.now_ms()
        for uid, member in rollcall.members.items():
            if member.answered is None:
                self.host.send_to(uid, alert_chat(self.host.settings.server_id, uid, text, now))
        return rollcall

    async def answer(self, uid: str, groups: frozenset[str], code: str | None, text: str) -> list[RollCall]:
        """``uid`` (the device a chat came from) checks in; the roll calls it answered."""
        async with self.locked():
            if code is not None:
                named = self.book.by_code(code)
                candidates = [] if named is None else [named]
            else:
                candidates = self.book.open()
            asked = [r for r in candidates if uid in r.members and not r.groups.isdisjoint(groups)]
            if code is not None and not asked:
                raise MissionNotFound(f"{uid} is not asked by an open roll call {model.CODE_PREFIX}{code}")
            answered = []
            for rollcall in asked:
                if rollcall.members[uid].answered is None:
                    body = {"op": "answer", "uid": uid, "text": text[: model.MAX_ANSWER_CHARS]}
                    await self._commit(rollcall.id, uid, body)
                    answered.append(rollcall)
        return answered

    async def account(self, rollcall: RollCall, uid: str, author: str, note: str) -> RollCall:
        """The command post accounts for a member itself (seen in person, checked in by radio)."""
        async with self.locked():
            if rollcall.state != model.OPEN:
                raise MissionConflict(f"roll call {rollcall.code} is {rollcall.state}")
            member = rollcall.members.get(uid)
            if member is None:
                raise MissionNotFound(f"{uid} is not asked by roll call {rollcall.code}")
            if member.answered is None:
                text = f"accounted for by {author}" + (f": {note}" if note else "")
                body = {"op": "answer", "uid": uid, "text": text[: model.MAX_ANSWER_CHARS]}
                await self._commit(rollcall.id, author, body)
        return rollcall

    async def _raise_overdue(self, rollcall: RollCall) -> None:
        async with self.locked():
            if rollcall.state != model.OPEN or rollcall.id in self._overdue_elsewhere:
                return
            await self._commit(rollcall.id, None, {"op": "overdue"})
        now = self.host.now_ms()
        alarm = self._overdue_alarm(rollcall, now)
        self.host.counters.inc("rollcall_overdue")
        log.warning("roll call %s: %d devices overdue", rollcall.code, len(alarm["overdue"]))
        self._notify(rollcall.groups, alarm)

    @staticmethod
    def _overdue_alarm(rollcall: RollCall, now: int) -> dict[str, Any]:
        overdue = rollcall.overdue(now)
        return {
            "type": "rollcall-overdue",
            "id": rollcall.id,
            "code": rollcall.code,
            "overdue": [m.callsign or m.uid for m in overdue],
        }

    async def _commit(self, rollcall_id: str, author: str | None, body: dict[str, Any]) -> RollCall | None:
        """Journal one change, apply it, tell the pages; the caller holds :attr:`lock`."""
        store = self.store()
        now = self.host.now_ms()
        stream = model.STREAM_PREFIX + rollcall_id
        text = json.dumps(body, separators=(",", ":"))
        try:
            entry_id = await store.append_journal(stream, now, author, text)
        except StoreError as exc:
            raise MissionsUnavailable(f"the roll call could not be stored: {exc}") from exc
        self.host.notices.changed(model.STREAM_PREFIX)
        await self._catch_up(before=entry_id)
        self.applied_id = entry_id
        rollcall = self.book.apply(rollcall_id, now, body)
        if body["op"] in ("start", "cancel"):
            self._refresh_asked()
        if rollcall is not None:
            self._tell(rollcall, now)
        return rollcall

    def _refresh_asked(self) -> None:
        self.watch.refresh()
        self._lost = {r.id: lost for r in self.book.open() if (lost := self._lost.get(r.id)) is not None}

    def _tell(self, rollcall: RollCall, now: int) -> None:
        self._notify(rollcall.groups, {"type": "rollcall", "rollcall": self.json(rollcall, now)})

    def _notify(self, groups: frozenset[str], message: dict[str, Any]) -> None:
        for listener in list(self.listeners):
            try:
                listener(groups, message)
            except Exception:  # the boundary of code we do not own (the web live feed)
                log.exception("roll calls: listener %r failed", listener)

    def _lost_members(self, rollcall: RollCall, now: int) -> frozenset[str]:
        return frozenset(
            uid
            for uid in rollcall.members
            if (seen := self.last_position(uid)) is None or now - seen >= rollcall.no_position_ms
        )

    async def _answered(self, uid: str, groups: frozenset[str], code: str | None, text: str) -> None:
        """Journal the check-in, then tell the device it counted (its user sees the reply arrive)."""
        answered = await self.answer(uid, groups, code, text)
        if answered:
            self.host.counters.inc("rollcall_answered")
            now = self.host.now_ms()
            receipt = model.receipt_text(answered)
            self.host.send_to(uid, alert_chat(self.host.settings.server_id, uid, receipt, now))


__all__ = ["RollCallService"]

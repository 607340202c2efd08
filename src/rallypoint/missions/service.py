"""The mission component: journal, state, announcements, and the mission operations.

Every change goes the same way: check it against the current state, append it to the
store's journal (durable on return), apply it to the :class:`MissionBook`, announce it.
One lock covers check-journal-apply-announce, so concurrent requests on the event loop
produce one consistent order: the journal's. Objectives and checklists
(:mod:`~rallypoint.missions.desk`) and routed traffic (:mod:`~rallypoint.missions.field`)
use the same path.
"""

import asyncio
import functools
import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

from rallypoint.errors import MissionConflict, MissionError, MissionNotFound, MissionsUnavailable, StoreError
from rallypoint.missions.access import Actor, authorize, find, invitation_role
from rallypoint.missions.announce import Announcer
from rallypoint.missions.book import STREAM_PREFIX, MissionBook, stream_of
from rallypoint.missions.credentials import new_token, token_digest
from rallypoint.missions.desk import ObjectiveDesk
from rallypoint.missions.field import FieldWatch
from rallypoint.missions.model import NEVER_EXPIRES, Applied, Mission, Subscription
from rallypoint.missions.roles import READ
from rallypoint.router.host import Host
from rallypoint.store.base import JournalEntry, Store

log = logging.getLogger(__name__)

Listener = Callable[[frozenset[str], dict[str, Any]], None]
"""Told (mission groups, message) after every change: the web live feed subscribes here."""

REPLAY_PAGE = 10_000
"""Journal entries read per query at start."""
MAX_MISSIONS = 10_000
"""Missions kept at most (all live in memory); past it creation is refused."""


class MissionService:
    """The server component for missions, objectives and checklists."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.book = MissionBook()
        self.listeners: list[Listener] = []
        self.lock = asyncio.Lock()
        """Held from the check to the announcement of every change."""
        self.desk = ObjectiveDesk(self)
        self.field = FieldWatch(self)
        self.announcer = Announcer(
            send_to=host.send_to,
            reachable_from=host.router.registry.reachable_from,
            resolve=host.router.devices.resolve,
            announce_objective=self.desk.announce,
            tell=self.tell,
        )
        self.ready = False
        self._expiring: set[str] = set()
        """Guids of expired missions whose deletion is queued."""

    # lifecycle (Component)

    async def start(self) -> None:
        """Replay the journal, then watch routed traffic."""
        store = self.host.store()
        if store is None:
            log.warning("missions: no store, the mission API answers 503")
            return
        count = 0
        after = 0
        while True:
            entries = await store.read_journal(STREAM_PREFIX, after_id=after, limit=REPLAY_PAGE)
            for entry in entries:
                self._replay(entry)
            count += len(entries)
            if len(entries) < REPLAY_PAGE:
                break
            after = entries[-1].id
        self.ready = True
        self.field.start()
        log.info("missions: %d missions from %d journal entries", len(self.book.missions), count)

    def _replay(self, entry: JournalEntry) -> None:
        try:
            body = json.loads(entry.body)
            if isinstance(body, dict):
                self.book.apply(entry, body)
        except (ValueError, KeyError, TypeError, MissionError) as exc:
            log.error("missions: journal entry %d (%s) not applied: %s", entry.id, entry.stream, exc)

    def tick(self, now_ms: int) -> None:
        """Re-send unacknowledged assignments; escalate overdue ones."""
        if self.ready:
            self.desk.tick(now_ms)
            self._expire(now_ms)

    def _expire(self, now_ms: int) -> None:
        """Queue the deletion of every mission past its expiration (TAK's mission retention)."""
        for guid, mission in self.book.missions.items():
            if expired(mission, now_ms) and guid not in self._expiring:
                self._expiring.add(guid)
                self.field.enqueue(functools.partial(self._delete_expired, guid))

    async def _delete_expired(self, guid: str) -> None:
        try:
            async with self.lock:
                mission = self.book.missions.get(guid)
                if mission is not None and expired(mission, self.host.now_ms()):
                    log.info("missions: %r expired, deleting it", mission.name)
                    body = {"op": "delete", "reason": "expired"}
                    await self.commit(guid, self.host.settings.server_id, body)
        finally:
            self._expiring.discard(guid)

    async def stop(self) -> None:
        await self.field.stop()
        self.ready = False

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
        applied = self.book.apply(JournalEntry(entry_id, stream, now, author, text), body)
        assert applied is not None
        self.announcer.announce(applied, now)
        return applied

    def tell(self, groups: frozenset[str], message: dict[str, Any]) -> None:
        """Hand a message to every listener; one failing listener does not stop the others."""
        for listener in list(self.listeners):
            try:
                listener(groups, message)
            except Exception:  # the boundary of code we do not own (the web live feed)
                log.exception("missions: listener %r failed", listener)

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

    # mission operations (each: authorize, then under the lock re-check and commit)

    async def create(self, actor: Actor, fields: dict[str, Any]) -> Mission:
        """A new mission (fields validated by :func:`rallypoint.missions.requests.mission_fields`)."""
        async with self.lock:
            if len(self.book.missions) >= MAX_MISSIONS:
                raise MissionConflict(f"the server holds {MAX_MISSIONS} missions: delete some first")
            if self.book.by_name(fields["name"]) is not None:
                raise MissionConflict(f"a mission named {fields['name']!r} exists")
            guid = fields.pop("guid", None) or str(uuid.uuid4())
            if guid in self.book.missions:
                raise MissionConflict(f"a mission with guid {guid} exists")
            body = {"op": "create", **fields, "creatorUser": actor.username or ""}
            applied = await self.commit(guid, actor.uid, body)
        return applied.mission

    async def change(self, mission: Mission, actor: Actor, permission: str, body: dict[str, Any]) -> Applied:
        """Authorize ``actor`` for ``permission``, then commit ``body`` if the mission still exists."""
        uid = await self.authorize(mission, actor, permission)
        async with self.lock:
            if self.book.missions.get(mission.guid) is not mission:
                raise MissionConflict(f"mission {mission.name!r} was deleted meanwhile")
            return await self.commit(mission.guid, uid, body)

    async def subscribe(self, mission: Mission, actor: Actor) -> tuple[Subscription, str]:
        """Subscribe ``actor.uid``; returns the subscription and its token (shown only now)."""
        token = new_token()
        body: dict[str, Any] = {"op": "subscribe", "uid": actor.uid, "username": actor.username}
        body["token"] = token_digest(token)
        role = invitation_role(mission, actor)
        if role is not None and actor.uid not in mission.roles:
            body["role"] = role
        await self.change(mission, actor, READ, body)
        return mission.subscriptions[actor.uid], token


def expired(mission: Mission, now_ms: int) -> bool:
    """Past its expiration (epoch seconds): hidden at once, deleted by the next tick."""
    return mission.expiration != NEVER_EXPIRES and mission.expiration * 1000 <= now_ms

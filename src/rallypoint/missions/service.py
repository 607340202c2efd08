"""The mission component: journal, state, announcements, and the mission operations.

Every change goes the same way (:mod:`~rallypoint.missions.ledger`): check it against the
current state, append it to the store's journal (durable on return), apply it to the
:class:`MissionBook`, announce it. One lock covers check-journal-apply-announce, so
concurrent requests on the event loop produce one consistent order: the journal's. The
service wires the parts: objectives and checklists (:mod:`~rallypoint.missions.desk`),
routed traffic (:mod:`~rallypoint.missions.field`) and delivery of objective markers
(:mod:`~rallypoint.missions.courier`) are each handed the ledger, never the service.
"""

import functools
import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

from rallypoint.errors import MissionConflict, MissionError
from rallypoint.missions.access import Actor, invitation_role
from rallypoint.missions.announce import Announcer
from rallypoint.missions.book import STREAM_PREFIX, MissionBook
from rallypoint.missions.courier import ObjectiveCourier
from rallypoint.missions.credentials import new_token, token_digest
from rallypoint.missions.desk import ObjectiveDesk
from rallypoint.missions.field import FieldWatch
from rallypoint.missions.ledger import MissionLedger, expired
from rallypoint.missions.model import Applied, Mission, Subscription
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
        self.courier = ObjectiveCourier(host, self.book)
        announcer = Announcer(
            send_to=host.send_to,
            reachable_from=host.router.registry.reachable_from,
            resolve=host.router.devices.resolve,
            announce_objective=self.courier.announce,
            tell=self.tell,
        )
        self.ledger = MissionLedger(host, self.book, announcer.announce, announcer.echo)
        self.desk = ObjectiveDesk(self.ledger)
        self.field = FieldWatch(self.ledger, self.desk.answer)
        self._expiring: set[str] = set()
        """Guids of expired missions whose deletion is queued."""
        self._unsubscribe: Callable[[], None] | None = None

    @property
    def ready(self) -> bool:
        return self.ledger.ready

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
                self.ledger.applied_id = entry.id
            count += len(entries)
            if len(entries) < REPLAY_PAGE:
                break
            after = entries[-1].id
        self.ledger.ready = True
        self._unsubscribe = self.host.notices.subscribe(STREAM_PREFIX, self.ledger.catch_up_now)
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
            if self.host.notices.shared:
                self.ledger.other_node_changed()  # a notice lost while NATS was away: read anyway
            self.courier.resend(now_ms)
            self.desk.tick(now_ms)
            self._expire(now_ms)

    def _expire(self, now_ms: int) -> None:
        """Queue the deletion of every mission past its expiration (TAK's mission retention)."""
        for guid, mission in self.book.missions.items():
            if expired(mission, now_ms) and guid not in self._expiring:
                self._expiring.add(guid)
                self.ledger.enqueue(functools.partial(self._delete_expired, guid))

    async def _delete_expired(self, guid: str) -> None:
        try:
            async with self.ledger.locked():
                mission = self.book.missions.get(guid)
                if mission is not None and expired(mission, self.host.now_ms()):
                    log.info("missions: %r expired, deleting it", mission.name)
                    body = {"op": "delete", "reason": "expired"}
                    await self.ledger.commit(guid, self.host.settings.server_id, body)
        finally:
            self._expiring.discard(guid)

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        await self.field.stop()
        self.ledger.ready = False

    def tell(self, groups: frozenset[str], message: dict[str, Any]) -> None:
        """Hand a message to every listener; one failing listener does not stop the others."""
        for listener in list(self.listeners):
            try:
                listener(groups, message)
            except Exception:  # the boundary of code we do not own (the web live feed)
                log.exception("missions: listener %r failed", listener)

    # reading

    def store(self) -> Store:
        """The open store (:class:`MissionsUnavailable` until the journal is replayed)."""
        return self.ledger.store()

    def visible_missions(self, actor: Actor, tool: str | None = None) -> list[Mission]:
        return self.ledger.visible_missions(actor, tool)

    def find(self, actor: Actor, *, name: str | None = None, guid: str | None = None) -> Mission:
        return self.ledger.find(actor, name=name, guid=guid)

    async def authorize(self, mission: Mission, actor: Actor, permission: str) -> str:
        return await self.ledger.authorize(mission, actor, permission)

    # mission operations (each: authorize, then under the lock re-check and commit)

    async def create(self, actor: Actor, fields: dict[str, Any]) -> Mission:
        """A new mission (fields validated by :func:`rallypoint.missions.requests.mission_fields`)."""
        async with self.ledger.locked():
            if len(self.book.missions) >= MAX_MISSIONS:
                raise MissionConflict(f"the server holds {MAX_MISSIONS} missions: delete some first")
            if self.book.by_name(fields["name"]) is not None:
                raise MissionConflict(f"a mission named {fields['name']!r} exists")
            guid = fields.pop("guid", None) or str(uuid.uuid4())
            if guid in self.book.missions:
                raise MissionConflict(f"a mission with guid {guid} exists")
            body = {"op": "create", **fields, "creatorUser": actor.username or ""}
            applied = await self.ledger.commit(guid, actor.uid, body)
        return applied.mission

    async def change(self, mission: Mission, actor: Actor, permission: str, body: dict[str, Any]) -> Applied:
        """Authorize ``actor`` for ``permission``, then commit ``body`` if the mission still exists."""
        return await self.ledger.change(mission, actor, permission, body)

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

"""Telling devices and the web UI about an applied change.

Subscribers get Data Sync notifications by device uid through the host's ``send_to``, which
keeps them for a subscriber that is offline; mission creation goes to every connected client
of the mission's groups, as TAK Server announces it. An objective's marker goes to its
assignees and to the subscribers. Listeners (the web live feed) get every change.

An :class:`Announcer` is given what it needs (send, reach, resolve a callsign, the desk's
objective announcement, the listeners) rather than the service, so nothing here walks back
through the service object.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from rallypoint.cot.event import Event
from rallypoint.missions import notify
from rallypoint.missions.checklists import checklist_json
from rallypoint.missions.model import Applied, Mission
from rallypoint.missions.objectives import objective_json
from rallypoint.missions.roles import role_xml
from rallypoint.router.host import SendTo
from rallypoint.router.message import Outbound
from rallypoint.router.registry import Subscriber

Tell = Callable[[frozenset[str], dict[str, Any]], None]
"""Hand (mission groups, message) to the listeners."""


@dataclass(frozen=True)
class Announcer:
    """Sends what an applied change calls for (see the module docstring)."""

    send_to: SendTo
    reachable_from: Callable[[frozenset[str]], Iterable[Subscriber]]
    """Connected clients receiving from one of the groups."""
    resolve: Callable[[str, frozenset[str]], list[str]]
    """The device uids a callsign names among the groups."""
    announce_objective: Callable[[Applied, int], None]
    tell: Tell

    def announce(self, applied: Applied, now: int) -> None:
        """Send what ``applied`` calls for, then tell the listeners."""
        mission, op = applied.mission, applied.op
        author = applied.changes[0].author if applied.changes else None
        if op == "create":
            self._broadcast(mission, notify.mission_event(notify.CREATED, mission, now, author=author))
        elif op == "delete":
            self._subscribers(mission, notify.mission_event(notify.DELETED, mission, now, author=author))
        elif op in ("add_content", "remove_content", "external_data"):
            if applied.changes:
                inner = notify.changes_xml(mission, applied.changes)
                event = notify.mission_event(notify.CHANGED, mission, now, author=author, inner=inner)
                self._subscribers(mission, event)
        elif op in ("keywords", "item_keywords"):
            self._subscribers(
                mission, notify.mission_event(notify.KEYWORDS_CHANGED, mission, now, author=author)
            )
        elif op in ("update", "password", "feed"):
            # TAK Server announces metadata to the mission's groups, as it does a creation
            event = notify.mission_event(notify.METADATA_CHANGED, mission, now, author=author)
            self._broadcast(mission, event)
        elif op in ("layer", "map_layer"):
            event = notify.mission_event(notify.LAYER_CHANGED, mission, now, author=author)
            self._subscribers(mission, event)
        elif op in ("log", "checklist"):
            self._subscribers(mission, notify.mission_event(notify.LOG_CHANGED, mission, now, author=author))
        elif op == "role":
            body = applied.body
            inner = role_xml(body["role"])
            self.send_to(body["uid"], notify.mission_event(notify.ROLE_CHANGED, mission, now, inner=inner))
        elif op == "invite":
            self._invite(applied, now)
        elif op == "objective":
            self.announce_objective(applied, now)
        _tell(self.tell, applied)

    def echo(self, applied: Applied, now: int) -> None:
        """A change another node of the cluster committed and announced: what it sent by device
        uid crossed the bus already; what goes to every connected client of the mission's groups
        goes here to this node's own clients, and the listeners here are told."""
        mission, op = applied.mission, applied.op
        author = applied.changes[0].author if applied.changes else None
        if op == "create":
            self._broadcast(mission, notify.mission_event(notify.CREATED, mission, now, author=author))
        elif op in ("update", "password"):
            event = notify.mission_event(notify.METADATA_CHANGED, mission, now, author=author)
            self._broadcast(mission, event)
        _tell(self.tell, applied)

    def _subscribers(self, mission: Mission, event: Event) -> None:
        to_subscribers(self.send_to, mission, event)

    def _broadcast(self, mission: Mission, event: Event) -> None:
        """``event`` to every connected client receiving from one of the mission's groups."""
        message = Outbound(event)
        for subscriber in self.reachable_from(mission.groups):
            subscriber.deliver(message)

    def _invite(self, applied: Applied, now: int) -> None:
        body = applied.body
        uids = [body["invitee"]] if body["type"] == "clientUid" else []
        if body["type"] == "callsign":
            uids = self.resolve(body["invitee"], applied.mission.groups)
        inner = role_xml(body["role"])
        for uid in uids:
            event = notify.mission_event(
                notify.INVITED, applied.mission, now, author=applied.changes[0].author, inner=inner
            )
            self.send_to(uid, event)


def to_subscribers(send_to: SendTo, mission: Mission, event: Event, *, skip: str | None = None) -> None:
    """``event`` to every subscribed device (kept for the offline ones)."""
    for uid in list(mission.subscriptions):
        if uid != skip:
            send_to(uid, event)


def _tell(tell: Tell, applied: Applied) -> None:
    mission = applied.mission
    message: dict[str, Any]
    if applied.objective is not None:
        message = {"type": "objective", "objective": objective_json(applied.objective, mission.name)}
    else:
        message = {"type": "mission", "mission": summary_json(mission, deleted=applied.op == "delete")}
        if applied.checklist is not None:
            message["checklist"] = checklist_json(applied.checklist)
    if applied.changes:
        change = applied.changes[-1]
        message["change"] = {
            "type": change.type,
            "time": change.time,
            "author": change.author,
            "summary": change.summary,
        }
    tell(mission.groups, message)


def summary_json(mission: Mission, *, deleted: bool = False) -> dict[str, Any]:
    """A mission as the web UI lists it."""
    return {
        "name": mission.name,
        "guid": mission.guid,
        "description": mission.description,
        "groups": sorted(mission.groups),
        "keywords": list(mission.keywords),
        "creatorUid": mission.creator_uid,
        "createTime": mission.create_time,
        "lastEdited": mission.last_edited,
        "passwordProtected": mission.password_hash is not None,
        "subscribers": sorted(mission.subscriptions),
        "contents": len(mission.contents) + len(mission.uids),
        "objectives": len(mission.objectives),
        "checklists": len(mission.checklists),
        "deleted": deleted,
    }

"""All missions in memory, changed only by applying journal entries (pure: no I/O, no clock).

The service validates a request, writes a journal entry, then applies it here; at start the
same :meth:`MissionBook.apply` replays the whole journal. Each entry body is a JSON object
with an ``op`` naming the change; the entry's id, time and author say when and by whom.
"""

import logging
from collections.abc import Callable
from typing import Any

from rallypoint.errors import MissionConflict, MissionNotFound
from rallypoint.missions import checklists, objectives, structure
from rallypoint.missions.model import (
    ADD_CONTENT,
    CREATE_MISSION,
    DELETE_MISSION,
    REMOVE_CONTENT,
    Applied,
    Change,
    Invitation,
    Mission,
    Subscription,
    UidContent,
)
from rallypoint.missions.objectives import Objective, parse_geometry
from rallypoint.store.base import JournalEntry

log = logging.getLogger(__name__)

STREAM_PREFIX = "mission:"
"""Journal streams of this package: ``mission:<guid>``."""
OBJECTIVE_TYPE_POINT = "b-m-p-s-p-i"
OBJECTIVE_TYPE_AREA = "u-d-f"


def stream_of(guid: str) -> str:
    return STREAM_PREFIX + guid


class MissionBook:
    """Missions by guid, with the name index TAK's API addresses them by."""

    def __init__(self) -> None:
        self.missions: dict[str, Mission] = {}
        self._by_name: dict[str, str] = {}
        self.objectives: dict[str, str] = {}
        """objective id -> mission guid"""
        self.tokens: dict[str, tuple[str, str]] = {}
        """token digest -> (mission guid, client uid)"""

    def by_name(self, name: str) -> Mission | None:
        guid = self._by_name.get(name)
        return self.missions.get(guid) if guid is not None else None

    def objective(self, objective_id: str) -> tuple[Mission, Objective]:
        guid = self.objectives.get(objective_id)
        mission = self.missions.get(guid) if guid is not None else None
        if mission is None or objective_id not in mission.objectives:
            raise MissionNotFound(f"no objective {objective_id!r}")
        return mission, mission.objectives[objective_id]

    def apply(self, entry: JournalEntry, body: dict[str, Any]) -> Applied | None:
        """Apply one journal entry; None (logged) for one that no longer applies."""
        op = body.get("op")
        handler = _HANDLERS.get(op) if isinstance(op, str) else None
        guid = entry.stream[len(STREAM_PREFIX) :]
        if handler is None:
            log.warning("journal %d: unknown mission op %r skipped", entry.id, op)
            return None
        mission = None if op == "create" else self.missions.get(guid)
        if op != "create" and mission is None:
            log.warning("journal %d: %s for unknown mission %s skipped", entry.id, op, guid)
            return None
        author = entry.author or ""
        applied = handler(self, mission, entry, author, body)
        applied.mission.last_edited = entry.time
        applied.mission.changes.extend(applied.changes)
        return applied

    # handlers: (book, mission or None for create, entry, author, body) -> Applied

    def _create(
        self, _mission: Mission | None, entry: JournalEntry, author: str, body: dict[str, Any]
    ) -> Applied:
        guid = entry.stream[len(STREAM_PREFIX) :]
        if guid in self.missions or body["name"] in self._by_name:  # two nodes created it at once
            raise MissionConflict(f"journal {entry.id}: a mission named {body['name']!r} exists")
        mission = Mission(
            guid=guid,
            name=body["name"],
            description=body.get("description", ""),
            groups=frozenset(body["groups"]),
            creator_uid=body.get("creatorUid") or author,
            creator_user=body.get("creatorUser"),
            tool=body.get("tool", "public"),
            create_time=entry.time,
            default_role=body["defaultRole"],
            keywords=list(body.get("keywords", [])),
            password_hash=body.get("passwordHash"),
            invite_only=bool(body.get("inviteOnly", False)),
            chat_room=body.get("chatRoom", ""),
        )
        self.missions[guid] = mission
        self._by_name[mission.name] = guid
        change = Change(
            entry.id, CREATE_MISSION, entry.time, mission.creator_uid, f"created {mission.name!r}"
        )
        return Applied("create", mission, [change], body=body)

    def _delete(
        self, mission: Mission | None, entry: JournalEntry, author: str, body: dict[str, Any]
    ) -> Applied:
        assert mission is not None
        del self.missions[mission.guid]
        if self._by_name.get(mission.name) == mission.guid:
            del self._by_name[mission.name]
        for objective_id in mission.objectives:
            self.objectives.pop(objective_id, None)
        self.tokens = {d: v for d, v in self.tokens.items() if v[0] != mission.guid}
        change = Change(entry.id, DELETE_MISSION, entry.time, author, f"deleted {mission.name!r}")
        return Applied("delete", mission, [change], body=body)

    def _add_content(
        self, mission: Mission | None, entry: JournalEntry, author: str, body: dict[str, Any]
    ) -> Applied:
        assert mission is not None
        changes: list[Change] = []
        for resource in body.get("resources", []):
            mission.contents[resource["hash"]] = (resource, entry.time, author)
            summary = f"added file {resource.get('name') or resource['hash'][:12]}"
            changes.append(Change(entry.id, ADD_CONTENT, entry.time, author, summary, resource=resource))
        for item in body.get("uids", []):
            uid, details = item["uid"], item.get("details") or {}
            existing = mission.uids.get(uid)
            xml = item.get("xml") or (existing.xml if existing else None)
            mission.uids[uid] = UidContent(uid, entry.time, author, details, xml)
            summary = f"added {details.get('callsign') or uid}"
            changes.append(Change(entry.id, ADD_CONTENT, entry.time, author, summary, uid, details=details))
        return Applied("add_content", mission, changes, body=body)

    def _remove_content(
        self, mission: Mission | None, entry: JournalEntry, author: str, body: dict[str, Any]
    ) -> Applied:
        assert mission is not None
        changes: list[Change] = []
        digest, uid = body.get("hash"), body.get("uid")
        if digest and digest in mission.contents:
            resource = mission.contents.pop(digest)[0]
            mission.content_keywords.pop(digest, None)
            changes.append(
                Change(
                    entry.id,
                    REMOVE_CONTENT,
                    entry.time,
                    author,
                    f"removed file {digest[:12]}",
                    resource=resource,
                )
            )
        if uid and uid in mission.uids:
            details = mission.uids.pop(uid).details
            mission.uid_keywords.pop(uid, None)
            changes.append(
                Change(entry.id, REMOVE_CONTENT, entry.time, author, f"removed {uid}", uid, details=details)
            )
        return Applied("remove_content", mission, changes, body=body)

    def _keywords(
        self, mission: Mission | None, entry: JournalEntry, author: str, body: dict[str, Any]
    ) -> Applied:
        assert mission is not None
        mission.keywords = list(body["keywords"])
        summary = "keywords: " + ", ".join(mission.keywords)
        return Applied(
            "keywords", mission, [Change(entry.id, "KEYWORDS", entry.time, author, summary)], body=body
        )

    def _subscribe(
        self, mission: Mission | None, entry: JournalEntry, author: str, body: dict[str, Any]
    ) -> Applied:
        assert mission is not None
        uid = body["uid"]
        previous = mission.subscriptions.get(uid)
        if previous is not None:
            self.tokens.pop(previous.token_digest, None)
        mission.subscriptions[uid] = Subscription(uid, body.get("username"), entry.time, body["token"])
        self.tokens[body["token"]] = (mission.guid, uid)
        if body.get("role"):
            mission.roles[uid] = body["role"]
        change = Change(entry.id, "SUBSCRIBE", entry.time, author, f"{uid} subscribed")
        return Applied("subscribe", mission, [change], body=body)

    def _unsubscribe(
        self, mission: Mission | None, entry: JournalEntry, author: str, body: dict[str, Any]
    ) -> Applied:
        assert mission is not None
        subscription = mission.subscriptions.pop(body["uid"], None)
        if subscription is not None:
            self.tokens.pop(subscription.token_digest, None)
        change = Change(entry.id, "UNSUBSCRIBE", entry.time, author, f"{body['uid']} unsubscribed")
        return Applied("unsubscribe", mission, [change], body=body)

    def _role(
        self, mission: Mission | None, entry: JournalEntry, author: str, body: dict[str, Any]
    ) -> Applied:
        assert mission is not None
        mission.roles[body["uid"]] = body["role"]
        change = Change(entry.id, "ROLE", entry.time, author, f"{body['uid']} is {body['role']}")
        return Applied("role", mission, [change], body=body)

    def _password(
        self, mission: Mission | None, entry: JournalEntry, author: str, body: dict[str, Any]
    ) -> Applied:
        assert mission is not None
        mission.password_hash = body.get("passwordHash")
        summary = "password set" if mission.password_hash else "password removed"
        return Applied(
            "password", mission, [Change(entry.id, "PASSWORD", entry.time, author, summary)], body=body
        )

    def _invite(
        self, mission: Mission | None, entry: JournalEntry, author: str, body: dict[str, Any]
    ) -> Applied:
        assert mission is not None
        invitation = Invitation(
            body["type"], body["invitee"], body["role"], author, entry.time, body.get("token")
        )
        mission.invitations.append(invitation)
        if invitation.type == "clientUid" and invitation.token_digest:
            self.tokens[invitation.token_digest] = (mission.guid, invitation.invitee)
        change = Change(entry.id, "INVITE", entry.time, author, f"invited {body['type']} {body['invitee']}")
        return Applied("invite", mission, [change], body=body)

    def _log(
        self, mission: Mission | None, entry: JournalEntry, author: str, body: dict[str, Any]
    ) -> Applied:
        assert mission is not None
        log_entry = body["entry"]
        if body.get("delete"):
            mission.logs.pop(log_entry["id"], None)
            summary = f"log entry {log_entry['id']} deleted"
        else:
            mission.logs[log_entry["id"]] = log_entry
            summary = "log: " + str(log_entry.get("content", ""))[:80]
        return Applied("log", mission, [Change(entry.id, "LOG", entry.time, author, summary)], body=body)

    def _objective(
        self, mission: Mission | None, entry: JournalEntry, author: str, body: dict[str, Any]
    ) -> Applied:
        assert mission is not None
        action = body["action"]
        if action == "designate":
            record = body["objective"]
            fields = {
                **record,
                "geometry": parse_geometry(record["geometry"]),
                "assignee": body.get("assignee"),
            }
            objective = objectives.designate(record["id"], mission.guid, fields, author, entry.time)
            self.objectives[objective.id] = mission.guid
        else:
            objective = mission.objectives[body["id"]]
            if action == "assign":
                objective = objectives.assign(objective, body["assignee"], author, entry.time)
            elif action == "state":
                objective = objectives.transition(objective, body["state"], author, entry.time)
            else:
                objective = objectives.escalate(objective)
        mission.objectives[objective.id] = objective
        details = objective_details(objective)
        mission.uids[objective.id] = UidContent(objective.id, entry.time, author, details)
        summary = f"{objective.short_id} {action}"
        summary += (
            f" {objective.state}" if action != "escalate" else f" (unacknowledged by {objective.assignee})"
        )
        change = Change(entry.id, ADD_CONTENT, entry.time, author, summary, objective.id, details=details)
        return Applied("objective", mission, [change], objective=objective, body=body)

    def _checklist(
        self, mission: Mission | None, entry: JournalEntry, author: str, body: dict[str, Any]
    ) -> Applied:
        assert mission is not None
        action = body["action"]
        if action == "template":
            checklist = checklists.new_template(
                body["id"], mission.guid, body["name"], tuple(body["items"]), author=author, now=entry.time
            )
            summary = f"checklist template {checklist.name!r}"
        elif action == "start":
            template = mission.checklists[body["template"]]
            checklist = checklists.start(template, body["id"], body.get("name"), author, entry.time)
            summary = f"checklist {checklist.name!r} started"
        else:
            checklist = checklists.set_item(
                mission.checklists[body["id"]], body["item"], body["status"], author, entry.time
            )
            text = next(item.text for item in checklist.items if item.id == body["item"])
            summary = f"checklist {checklist.name!r}: {text!r} {body['status']}"
        mission.checklists[checklist.id] = checklist
        log_entry: dict[str, Any] = {
            "id": f"{checklist.id}-{entry.id}",
            "content": summary,
            "creatorUid": author,
            "entryUid": checklist.id,
            "missionNames": [mission.name],
            "servertime": entry.time,
            "dtg": entry.time,
            "created": entry.time,
            "contentHashes": [],
            "keywords": ["checklist"],
        }
        mission.logs[log_entry["id"]] = log_entry
        change = Change(entry.id, "CHECKLIST", entry.time, author, summary, checklist.id)
        return Applied("checklist", mission, [change], checklist=checklist, body={**body, "entry": log_entry})


def objective_details(objective: Objective) -> dict[str, Any]:
    """TAK's UidDetails for an objective's marker."""
    lat, lon = objective.geometry.center
    cot_type = OBJECTIVE_TYPE_POINT if objective.geometry.kind == "Point" else OBJECTIVE_TYPE_AREA
    return {
        "type": cot_type,
        "callsign": f"{objective.short_id} {objective.title}",
        "location": {"lat": lat, "lon": lon},
    }


_Handler = Callable[[MissionBook, Mission | None, JournalEntry, str, dict[str, Any]], Applied]
_HANDLERS: dict[str, _Handler] = {
    "create": MissionBook._create,
    "delete": MissionBook._delete,
    "add_content": MissionBook._add_content,
    "remove_content": MissionBook._remove_content,
    "keywords": MissionBook._keywords,
    "subscribe": MissionBook._subscribe,
    "unsubscribe": MissionBook._unsubscribe,
    "role": MissionBook._role,
    "password": MissionBook._password,
    "invite": MissionBook._invite,
    "log": MissionBook._log,
    "objective": MissionBook._objective,
    "checklist": MissionBook._checklist,
}


def _structural(handler: structure.StructureHandler) -> _Handler:
    def run(
        _book: MissionBook, mission: Mission | None, entry: JournalEntry, author: str, body: dict[str, Any]
    ) -> Applied:
        assert mission is not None
        return handler(mission, entry, author, body)

    return run


_HANDLERS.update({op: _structural(handler) for op, handler in structure.HANDLERS.items()})

"""The mission's in-memory state and its JSON shapes as TAK's Data Sync API writes them (§4.5).

A :class:`Mission` is mutated only by :class:`rallypoint.missions.book.MissionBook` while it
applies journal entries, so whatever a client reads is exactly what the journal says.
"""

from dataclasses import dataclass, field
from typing import Any

from rallypoint.cot.timefmt import format_time
from rallypoint.missions.checklists import Checklist
from rallypoint.missions.objectives import Objective
from rallypoint.missions.roles import OWNER, role_json

CREATE_MISSION = "CREATE_MISSION"
DELETE_MISSION = "DELETE_MISSION"
ADD_CONTENT = "ADD_CONTENT"
REMOVE_CONTENT = "REMOVE_CONTENT"
TAK_CHANGE_TYPES = frozenset({CREATE_MISSION, DELETE_MISSION, ADD_CONTENT, REMOVE_CONTENT})
"""Change types TAK clients know; the others (keywords, roles, log…) appear only in our web API."""

NEVER_EXPIRES = -1
"""``expiration`` of a mission that does not expire; otherwise epoch seconds, as TAK writes it."""
DESCRIPTIVE_FIELDS = ("baseLayer", "bbox", "path", "classification")
"""Free-text mission fields TAK clients set and read back unchanged."""


@dataclass(frozen=True)
class Change:
    """One entry of a mission's change log: what happened, who did it, when."""

    id: int
    """The journal id that caused it: the order of the log."""
    type: str
    time: int
    author: str
    summary: str
    content_uid: str | None = None
    resource: dict[str, Any] | None = None
    details: dict[str, Any] | None = None
    """For map items: ``type``, ``callsign``, ``location`` (TAK's UidDetails)."""
    external: dict[str, Any] | None = None
    """For external data: TAK's ExternalMissionData (with the change's ``notes``)."""


@dataclass
class UidContent:
    """A CoT item (by uid) in the mission, with its latest event when the server saw one."""

    uid: str
    time: int
    creator: str
    details: dict[str, Any]
    xml: str | None = None


@dataclass
class Subscription:
    uid: str
    username: str | None
    time: int
    token_digest: str


@dataclass(frozen=True)
class Invitation:
    type: str
    invitee: str
    role: str
    creator: str
    time: int
    token_digest: str | None


@dataclass
class Layer:
    """A mission layer (TAK's MissionLayer): a folder of the mission's items, possibly nested."""

    uid: str
    name: str
    type: str
    parent: str | None = None
    uids: list[str] = field(default_factory=list)
    """Map items filed under this layer (``UID`` layers)."""


@dataclass
class Mission:
    """Everything known about one mission."""

    guid: str
    name: str
    description: str
    groups: frozenset[str]
    creator_uid: str
    tool: str
    create_time: int
    default_role: str
    keywords: list[str] = field(default_factory=list)
    password_hash: str | None = None
    invite_only: bool = False
    chat_room: str = ""
    creator_user: str | None = None
    """The identity that created the mission ("" for anonymous; None in journals older than
    the field): naming ``creator_uid`` gives its powers only to that identity."""
    last_edited: int = 0
    roles: dict[str, str] = field(default_factory=dict)
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    invitations: list[Invitation] = field(default_factory=list)
    contents: dict[str, tuple[dict[str, Any], int, str]] = field(default_factory=dict)
    """hash -> (Resource JSON, time added, who added it)."""
    uids: dict[str, UidContent] = field(default_factory=dict)
    logs: dict[str, dict[str, Any]] = field(default_factory=dict)
    changes: list[Change] = field(default_factory=list)
    objectives: dict[str, Objective] = field(default_factory=dict)
    checklists: dict[str, Checklist] = field(default_factory=dict)
    expiration: int = NEVER_EXPIRES
    parent: str | None = None
    """The guid of the parent mission (TAK's mission hierarchy)."""
    descriptive: dict[str, str] = field(default_factory=dict)
    """``baseLayer``, ``bbox``, ``path``, ``classification`` when set."""
    layers: dict[str, Layer] = field(default_factory=dict)
    """Layers by uid, in display order."""
    map_layers: dict[str, dict[str, Any]] = field(default_factory=dict)
    """TAK MapLayer objects (validated JSON) by uid."""
    feeds: dict[str, dict[str, Any]] = field(default_factory=dict)
    """TAK MissionFeed objects (a data feed of the server, with filters) by mission-feed uid."""
    uid_keywords: dict[str, list[str]] = field(default_factory=dict)
    """Keywords of the mission's map items, by uid (TAK's ``…/uid/{uid}/keywords``)."""
    content_keywords: dict[str, list[str]] = field(default_factory=dict)
    """Keywords of the mission's files, by hash (TAK's ``…/content/{hash}/keywords``)."""
    external_data: dict[str, dict[str, Any]] = field(default_factory=dict)
    """TAK ExternalMissionData (links to another tool's data) by uid."""

    def role_of(self, actor: str) -> str:
        """The actor's explicit role, the creator's ownership, else the default role."""
        if actor in self.roles:
            return self.roles[actor]
        return OWNER if actor == self.creator_uid else self.default_role

    def owners(self) -> list[str]:
        """Client uids and users holding the owner role (the creator first)."""
        named = [actor for actor, role in self.roles.items() if role == OWNER and actor != self.creator_uid]
        return [self.creator_uid, *named]


def mission_json(mission: Mission, *, changes: bool = False, logs: bool = False) -> dict[str, Any]:
    """A Mission in TAK's JSON shape (null fields omitted)."""
    data: dict[str, Any] = {
        "name": mission.name,
        "guid": mission.guid,
        "description": mission.description,
        "chatRoom": mission.chat_room,
        "tool": mission.tool,
        "keywords": list(mission.keywords),
        "creatorUid": mission.creator_uid,
        "createTime": format_time(mission.create_time),
        "lastEdited": format_time(mission.last_edited or mission.create_time),
        "groups": sorted(mission.groups),
        "externalData": list(mission.external_data.values()),
        "feeds": list(mission.feeds.values()),
        "mapLayers": list(mission.map_layers.values()),
        "defaultRole": role_json(mission.default_role),
        "ownerRole": role_json(OWNER),
        "inviteOnly": mission.invite_only,
        "expiration": mission.expiration,
        "passwordProtected": mission.password_hash is not None,
        "uids": [uid_json(item, mission.uid_keywords.get(item.uid)) for item in mission.uids.values()],
        "contents": [
            {
                "data": resource,
                "timestamp": format_time(time),
                "creatorUid": creator,
                "keywords": list(mission.content_keywords.get(digest, [])),
            }
            for digest, (resource, time, creator) in mission.contents.items()
        ],
    }
    data.update(mission.descriptive)
    if changes:
        data["missionChanges"] = [change_json(mission, change) for change in tak_changes(mission)]
    if logs:
        data["logs"] = [log_json(entry) for entry in mission.logs.values()]
    return data


LOG_TIMES = ("servertime", "dtg", "created")
"""LogEntry times: kept as epoch milliseconds in the journal, written as TAK's ISO strings."""


def log_json(entry: dict[str, Any]) -> dict[str, Any]:
    """A LogEntry as TAK writes it (node-tak's ``MissionLog``: its times are strings)."""
    data = dict(entry)
    for name in LOG_TIMES:
        if isinstance(data.get(name), int):
            data[name] = format_time(data[name])
    return data


def uid_json(item: UidContent, keywords: list[str] | None = None) -> dict[str, Any]:
    return {
        "data": item.uid,
        "timestamp": format_time(item.time),
        "creatorUid": item.creator,
        "keywords": list(keywords or []),
        "details": item.details,
    }


def tak_changes(mission: Mission) -> list[Change]:
    """The change log as TAK clients read it (types they know)."""
    return [change for change in mission.changes if change.type in TAK_CHANGE_TYPES]


def change_json(mission: Mission, change: Change) -> dict[str, Any]:
    """A MissionChange in TAK's JSON shape."""
    data: dict[str, Any] = {
        "isFederatedChange": False,
        "type": change.type,
        "missionName": mission.name,
        "missionGuid": mission.guid,
        "timestamp": format_time(change.time),
        "serverTime": format_time(change.time),
        "creatorUid": change.author,
    }
    if change.content_uid is not None:
        data["contentUid"] = change.content_uid
    if change.details is not None:
        data["details"] = change.details
    if change.resource is not None:
        data["contentResource"] = change.resource
    if change.external is not None:
        data["externalData"] = change.external
    return data


def change_log_json(change: Change) -> dict[str, Any]:
    """One change as the web API shows it (every type, with a human summary)."""
    return {
        "id": change.id,
        "type": change.type,
        "time": change.time,
        "author": change.author,
        "summary": change.summary,
        "contentUid": change.content_uid,
    }


def subscription_json(mission: Mission, subscription: Subscription, token: str | None) -> dict[str, Any]:
    """A MissionSubscription (the token only in the answer to the subscribe call itself)."""
    data: dict[str, Any] = {
        "clientUid": subscription.uid,
        "username": subscription.username or "",
        "createTime": format_time(subscription.time),
        "role": role_json(mission.role_of(subscription.uid)),
        "mission": mission_json(mission),
    }
    if token is not None:
        data["token"] = token
    return data


@dataclass(frozen=True)
class Applied:
    """What one journal entry did, for the service to announce."""

    op: str
    mission: Mission
    changes: list[Change] = field(default_factory=list)
    objective: Objective | None = None
    checklist: Checklist | None = None
    body: dict[str, Any] = field(default_factory=dict)

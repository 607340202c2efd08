"""The CoT events the mission service sends: Data Sync notifications, objective markers, alerts.

Notifications follow TAK Server's shape (reference §4.5): a server event (``how`` h-g-i-g-o,
null point, stale +20 s) whose ``<mission>`` detail names the mission and, for changes, holds
``<MissionChanges><MissionChange>`` with every field as a child element.

An objective is an ordinary map item so any TAK client shows it: a ``b-m-p-s-p-i`` point (or
a ``u-d-f`` shape with one ``<link point>`` per vertex) whose ``<remarks>`` say what to do and
how to answer, plus our extension ``<__objective id short state priority due assignee mission
missionGuid/>``, which clients ignore and which a reply may carry back (see :mod:`acks`).
"""

import uuid
from typing import Any

from rallypoint.cot.event import Contact, Detail, Event, Point
from rallypoint.cot.timefmt import format_time
from rallypoint.cot.xml import escape_attribute
from rallypoint.missions.book import OBJECTIVE_TYPE_AREA, OBJECTIVE_TYPE_POINT
from rallypoint.missions.model import Change, Mission
from rallypoint.missions.objectives import Objective

CREATED = "t-x-m-n"
DELETED = "t-x-m-d"
CHANGED = "t-x-m-c"
LOG_CHANGED = "t-x-m-c-l"
KEYWORDS_CHANGED = "t-x-m-c-k"
METADATA_CHANGED = "t-x-m-c-m"
LAYER_CHANGED = "t-x-m-c-h"
INVITED = "t-x-m-i"
ROLE_CHANGED = "t-x-m-r"
NOTIFICATION_PREFIX = "t-x-m-"

SERVER_HOW = "h-g-i-g-o"
NOTIFICATION_LIFETIME_MS = 20_000
OBJECTIVE_LIFETIME_MS = 30 * 24 * 3600 * 1000
"""A marker's stale time: it stays on the map for the operation, not for minutes."""
ALERT_LIFETIME_MS = 24 * 3600 * 1000
OBJECTIVE_COLOR = "-65536"
"""Red (ARGB as a signed int), as ATAK writes colours."""
SERVER_CALLSIGN = "Rallypoint"
_NULL_POINT = Point(lat=0.0, lon=0.0, hae=0.0, ce=9999999.0, le=9999999.0)

_MISSION_TYPES = {CREATED: "CREATE", DELETED: "DELETE", INVITED: "INVITE", ROLE_CHANGED: "INVITE"}


def _x(value: object) -> str:
    return escape_attribute(str(value))


def mission_event(
    cot_type: str,
    mission: Mission,
    now: int,
    *,
    author: str | None = None,
    inner: str = "",
    token: str | None = None,
) -> Event:
    """A Data Sync notification of ``cot_type`` about ``mission``."""
    kind = _MISSION_TYPES.get(cot_type, "CHANGE")
    attributes = (
        f'type="{kind}" tool="{_x(mission.tool)}" name="{_x(mission.name)}" guid="{_x(mission.guid)}"'
    )
    if author:
        attributes += f' authorUid="{_x(author)}"'
    if token:
        attributes += f' token="{_x(token)}"'
    xml = f"<mission {attributes}>{inner}</mission>"
    return Event(
        uid=str(uuid.uuid4()),
        type=cot_type,
        how=SERVER_HOW,
        time=now,
        start=now,
        stale=now + NOTIFICATION_LIFETIME_MS,
        point=_NULL_POINT,
        detail=Detail(xml=xml),
    )


def changes_xml(mission: Mission, changes: list[Change]) -> str:
    """``<MissionChanges>`` holding one ``<MissionChange>`` per change (JAXB element order)."""
    return (
        "<MissionChanges>" + "".join(_change_xml(mission, change) for change in changes) + "</MissionChanges>"
    )


def _change_xml(mission: Mission, change: Change) -> str:
    parts = ["<MissionChange>"]
    if change.resource is not None:
        parts.append(_resource_xml(change.resource))
    if change.content_uid is not None:
        parts.append(f"<contentUid>{_x(change.content_uid)}</contentUid>")
    parts.append(f"<creatorUid>{_x(change.author)}</creatorUid>")
    if change.details is not None:
        parts.append(_details_xml(change.details))
    if change.external is not None:
        inner = "".join(f"<{key}>{_x(value)}</{key}>" for key, value in change.external.items())
        parts.append(f"<externalData>{inner}</externalData>")
    parts.append(
        "<isFederatedChange>false</isFederatedChange>"
        f"<missionGuid>{_x(mission.guid)}</missionGuid><missionName>{_x(mission.name)}</missionName>"
        f"<timestamp>{format_time(change.time)}</timestamp><type>{_x(change.type)}</type></MissionChange>"
    )
    return "".join(parts)


_RESOURCE_FIELDS = (
    "creatorUid",
    "expiration",
    "filename",
    "hash",
    "mimeType",
    "name",
    "size",
    "submissionTime",
    "submitter",
    "tool",
    "uid",
)


def _resource_xml(resource: dict[str, Any]) -> str:
    inner = "".join(
        f"<{name}>{_x(resource[name])}</{name}>"
        for name in _RESOURCE_FIELDS
        if resource.get(name) is not None
    )
    keywords = "".join(f"<keywords>{_x(word)}</keywords>" for word in resource.get("keywords", []))
    return f"<contentResource>{inner}{keywords}</contentResource>"


def _details_xml(details: dict[str, Any]) -> str:
    attributes = " ".join(
        f'{name}="{_x(details[name])}"'
        for name in ("type", "callsign", "color", "iconsetPath")
        if details.get(name)
    )
    location = details.get("location")
    inner = f'<location lat="{_x(location["lat"])}" lon="{_x(location["lon"])}"/>' if location else ""
    return f"<details {attributes}>{inner}</details>"


def objective_marker(objective: Objective, mission: Mission, now: int) -> Event:
    """The objective as a map item (see the module docstring)."""
    lat, lon = objective.geometry.center
    area = objective.geometry.kind == "Polygon"
    callsign = f"{objective.short_id} {objective.title}"
    parts = [
        f'<contact callsign="{_x(callsign)}"/>',
        f"<remarks>{_x(objective_remarks(objective))}</remarks>",
    ]
    attributes = {
        "id": objective.id,
        "short": objective.short_id,
        "state": objective.state,
        "priority": objective.priority,
        "due": format_time(objective.due) if objective.due is not None else "",
        "assignee": objective.assignee or "",
        "mission": mission.name,
        "missionGuid": mission.guid,
    }
    parts.append("<__objective " + " ".join(f'{k}="{_x(v)}"' for k, v in attributes.items()) + "/>")
    if area:
        ring = [*objective.geometry.vertices, objective.geometry.vertices[0]]
        parts.extend(f'<link point="{lat_},{lon_}"/>' for lat_, lon_ in ring)
        parts.append(
            f'<strokeColor value="{OBJECTIVE_COLOR}"/><strokeWeight value="3.0"/><labels_on value="true"/>'
        )
    else:
        parts.append(f'<color argb="{OBJECTIVE_COLOR}"/>')
    parts.append("<archive/>")
    return Event(
        uid=objective.id,
        type=OBJECTIVE_TYPE_AREA if area else OBJECTIVE_TYPE_POINT,
        how=SERVER_HOW,
        time=now,
        start=now,
        stale=max(now, objective.due or 0) + OBJECTIVE_LIFETIME_MS,
        point=Point(lat=lat, lon=lon, hae=0.0, ce=9999999.0, le=9999999.0),
        detail=Detail(xml="".join(parts), contact=Contact(callsign)),
    )


def objective_remarks(objective: Objective) -> str:
    """What a person reads on the marker: the task, its state, and how to answer."""
    lines = [objective.title]
    if objective.description:
        lines.append(objective.description)
    status = f"Priority {objective.priority}. State: {objective.state.replace('_', ' ')}"
    if objective.assignee:
        status += f", assigned to {objective.assignee}"
    if objective.due is not None:
        status += f". Due {format_time(objective.due)}"
    lines.append(status + ".")
    short = objective.short_id
    lines.append(f"Answer by chat: ACK {short} / START {short} / DONE {short}")
    return "\n".join(lines)


def alert_chat(server_uid: str, recipient_uid: str, text: str, now: int, extra: str = "") -> Event:
    """A GeoChat direct message from the server to one device (``extra``: our own detail
    elements, which TAK clients ignore and a plugin may answer)."""
    message_id = str(uuid.uuid4())
    sender, to = _x(server_uid), _x(recipient_uid)
    xml = (
        f'<__chat parent="RootContactGroup" groupOwner="false" chatroom="{to}" id="{to}"'
        f' senderCallsign="{SERVER_CALLSIGN}" messageId="{message_id}">'
        f'<chatgrp uid0="{sender}" uid1="{to}" id="{to}"/></__chat>'
        f'<link uid="{sender}" type="a-f-G-U-C" relation="p-p"/>'
        f'<remarks source="BAO.F.ATAK.{sender}" to="{to}" time="{format_time(now)}">{_x(text)}</remarks>'
        f"{extra}"
    )
    return Event(
        uid=f"GeoChat.{server_uid}.{recipient_uid}.{message_id}",
        type="b-t-f",
        how=SERVER_HOW,
        time=now,
        start=now,
        stale=now + ALERT_LIFETIME_MS,
        point=_NULL_POINT,
        detail=Detail(xml=xml),
    )

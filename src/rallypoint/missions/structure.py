"""Journal ops that reshape a mission: metadata, hierarchy, layers, map layers, feeds, item
keywords, external data, uninvites.

Pure like :mod:`rallypoint.missions.book` (which dispatches to :data:`HANDLERS`): each handler
gets the mission, the journal entry and its body, mutates the mission and says what it did.
The bodies were validated by :mod:`rallypoint.missions.layers` or the API layer before they
were journaled, so replaying an old journal applies exactly what was accepted then.
"""

from collections.abc import Callable
from typing import Any

from rallypoint.cot.timefmt import format_time
from rallypoint.missions.model import (
    ADD_CONTENT,
    DESCRIPTIVE_FIELDS,
    REMOVE_CONTENT,
    Applied,
    Change,
    Layer,
    Mission,
)
from rallypoint.store.base import JournalEntry

METADATA = "METADATA"
"""Change type of an update (TAK announces it as a ``t-x-m-c-m`` metadata change)."""
LAYER = "LAYER"
HIERARCHY = "HIERARCHY"
UNINVITE = "UNINVITE"
FEED = "FEED"
KEYWORDS = "KEYWORDS"

StructureHandler = Callable[[Mission, JournalEntry, str, dict[str, Any]], Applied]


def _update(mission: Mission, entry: JournalEntry, author: str, body: dict[str, Any]) -> Applied:
    fields: dict[str, Any] = body["fields"]
    if "description" in fields:
        mission.description = fields["description"]
    if "chatRoom" in fields:
        mission.chat_room = fields["chatRoom"]
    if "tool" in fields:
        mission.tool = fields["tool"]
    if "inviteOnly" in fields:
        mission.invite_only = bool(fields["inviteOnly"])
    if "defaultRole" in fields:
        mission.default_role = fields["defaultRole"]
    if "expiration" in fields:
        mission.expiration = int(fields["expiration"])
    if "groups" in fields:
        mission.groups = frozenset(fields["groups"])
    for name in DESCRIPTIVE_FIELDS:
        if name in fields:
            if fields[name]:
                mission.descriptive[name] = fields[name]
            else:
                mission.descriptive.pop(name, None)
    summary = "updated " + ", ".join(sorted(fields))
    return Applied("update", mission, [Change(entry.id, METADATA, entry.time, author, summary)], body=body)


def _parent(mission: Mission, entry: JournalEntry, author: str, body: dict[str, Any]) -> Applied:
    mission.parent = body.get("parent")
    summary = f"parent set to {body.get('parentName')!r}" if mission.parent else "parent cleared"
    return Applied("parent", mission, [Change(entry.id, HIERARCHY, entry.time, author, summary)], body=body)


def _uninvite(mission: Mission, entry: JournalEntry, author: str, body: dict[str, Any]) -> Applied:
    kind, invitee = body["type"], body["invitee"]
    mission.invitations = [i for i in mission.invitations if (i.type, i.invitee) != (kind, invitee)]
    change = Change(entry.id, UNINVITE, entry.time, author, f"uninvited {kind} {invitee}")
    return Applied("uninvite", mission, [change], body=body)


def _layer(mission: Mission, entry: JournalEntry, author: str, body: dict[str, Any]) -> Applied:
    action = body["action"]
    if action != "add" and body["uid"] not in mission.layers:
        summary = f"layer {body['uid']} is gone: {action} skipped"
    elif action == "add":
        spec = body["layer"]
        mission.layers[spec["uid"]] = Layer(spec["uid"], spec["name"], spec["type"], spec.get("parent"))
        _place(mission, spec["uid"], spec.get("after"))
        summary = f"layer {spec['name']!r} added"
    elif action == "rename":
        mission.layers[body["uid"]].name = body["name"]
        summary = f"layer {body['uid']} renamed {body['name']!r}"
    elif action == "move":
        mission.layers[body["uid"]].parent = body.get("parent")
        _place(mission, body["uid"], body.get("after"))
        summary = f"layer {body['uid']} moved"
    elif action == "file":
        layer = mission.layers[body["uid"]]
        for other in mission.layers.values():
            other.uids = [uid for uid in other.uids if uid not in body["uids"]]
        layer.uids.extend(body["uids"])
        summary = f"{len(body['uids'])} items filed under {layer.name!r}"
    else:
        for uid in descendants(mission, body["uid"]):
            mission.layers.pop(uid, None)
        summary = f"layer {body['uid']} deleted"
    return Applied("layer", mission, [Change(entry.id, LAYER, entry.time, author, summary)], body=body)


def _map_layer(mission: Mission, entry: JournalEntry, author: str, body: dict[str, Any]) -> Applied:
    if body["action"] == "put":
        layer = dict(body["layer"])
        if isinstance(layer.get("createTime"), int):  # journals written before times were ISO strings
            layer["createTime"] = format_time(layer["createTime"])
        mission.map_layers[layer["uid"]] = layer
        summary = f"map layer {layer.get('name') or layer['uid']!r} saved"
    else:
        mission.map_layers.pop(body["uid"], None)
        summary = f"map layer {body['uid']} removed"
    return Applied("map_layer", mission, [Change(entry.id, LAYER, entry.time, author, summary)], body=body)


def _feed(mission: Mission, entry: JournalEntry, author: str, body: dict[str, Any]) -> Applied:
    if body["action"] == "put":
        feed = body["feed"]
        mission.feeds[feed["uid"]] = feed
        summary = f"data feed {feed['dataFeedUid']!r} added"
    else:
        mission.feeds.pop(body["uid"], None)
        summary = f"mission feed {body['uid']} removed"
    return Applied("feed", mission, [Change(entry.id, FEED, entry.time, author, summary)], body=body)


def _item_keywords(mission: Mission, entry: JournalEntry, author: str, body: dict[str, Any]) -> Applied:
    """Keywords of one map item (``kind`` uid) or file (``kind`` hash); none clears them."""
    table = mission.uid_keywords if body["kind"] == "uid" else mission.content_keywords
    if body["keywords"]:
        table[body["key"]] = list(body["keywords"])
    else:
        table.pop(body["key"], None)
    summary = f"keywords of {body['key'][:40]}: " + ", ".join(body["keywords"])
    return Applied(
        "item_keywords", mission, [Change(entry.id, KEYWORDS, entry.time, author, summary)], body=body
    )


def _external_data(mission: Mission, entry: JournalEntry, author: str, body: dict[str, Any]) -> Applied:
    """External data saved (``put``), removed (``delete``) or said to have changed (``notify``):
    TAK logs each as an ADD_CONTENT or REMOVE_CONTENT change carrying the data and the notes."""
    action = body["action"]
    data = body["data"] if action == "put" else mission.external_data.get(body["uid"])
    if data is None:  # removed meanwhile: nothing to log or announce
        return Applied("external_data", mission, [], body=body)
    if action == "put":
        mission.external_data[data["uid"]] = data
    elif action == "delete":
        mission.external_data.pop(data["uid"], None)
    kind = REMOVE_CONTENT if action == "delete" else ADD_CONTENT
    external = {**data, "notes": body.get("notes", data.get("notes", ""))}
    if body.get("token"):
        external["token"] = body["token"]
    summary = f"external data {data.get('name') or data['uid']!r} {action}"
    change = Change(entry.id, kind, entry.time, author, summary, external=external)
    return Applied("external_data", mission, [change], body=body)


def _place(mission: Mission, uid: str, after: str | None) -> None:
    """Move layer ``uid`` right after ``after`` (or last) in the display order."""
    layer = mission.layers.pop(uid)
    if after is None or after not in mission.layers:
        mission.layers[uid] = layer
        return
    reordered: dict[str, Layer] = {}
    for key, value in mission.layers.items():
        reordered[key] = value
        if key == after:
            reordered[uid] = layer
    mission.layers = reordered


def descendants(mission: Mission, uid: str) -> list[str]:
    """``uid`` and every layer below it."""
    found = [uid]
    for layer_uid in found:
        found.extend(
            key for key, layer in mission.layers.items() if layer.parent == layer_uid and key not in found
        )
    return found


HANDLERS: dict[str, StructureHandler] = {
    "update": _update,
    "parent": _parent,
    "uninvite": _uninvite,
    "layer": _layer,
    "map_layer": _map_layer,
    "feed": _feed,
    "item_keywords": _item_keywords,
    "external_data": _external_data,
}

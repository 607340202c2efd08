"""Mission layers and map layers: what a request may ask (checked before journaling) and their JSON.

A mission layer (TAK's MissionLayer) is a folder in the mission's tree: ``GROUP`` layers hold
other layers, ``UID`` layers hold map items of the mission, ``CONTENTS``, ``MAPLAYER`` and
``ITEM`` layers are kept as the client made them. A map layer (TAK's MapLayer) is a tile or
overlay source a client offers the mission's members; it is kept as validated JSON.
"""

import uuid
from typing import Any

from rallypoint.errors import InvalidMissionRequest, MissionNotFound
from rallypoint.missions.model import Mission, uid_json
from rallypoint.missions.requests import MAX_NAME_CHARS
from rallypoint.missions.structure import descendants

LAYER_TYPES = ("GROUP", "UID", "CONTENTS", "MAPLAYER", "ITEM")
MAX_LAYERS = 1000
"""Layers one mission holds at most."""
MAX_LAYER_DEPTH = 32
"""Nesting depth of layers; the JSON answer recurses this deep at most."""
MAX_MAP_LAYERS = 200
MAX_MAP_LAYER_FIELDS = 64
MAX_MAP_LAYER_TEXT = 4096
"""Characters in one text field of a map layer (tile URL templates are long)."""
MAX_UID_CHARS = 256


def check_uid(value: str | None, what: str) -> str | None:
    if value is None or value == "":
        return None
    if len(value) > MAX_UID_CHARS or not value.isprintable():
        raise InvalidMissionRequest(f"{what} must be 1 to {MAX_UID_CHARS} printable characters")
    return value


def check_layer_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME_CHARS or not name.isprintable():
        raise InvalidMissionRequest(f"a layer name is 1 to {MAX_NAME_CHARS} printable characters")
    return name


def new_layer(
    mission: Mission, *, name: str, kind: str, uid: str | None, parent: str | None, after: str | None
) -> dict[str, Any]:
    """The journal body of a new layer (TAK's ``PUT …/layers?name=&type=&uid=&parentUid=&afterUid=``)."""
    if kind not in LAYER_TYPES:
        raise InvalidMissionRequest(f"type must be one of {', '.join(LAYER_TYPES)}")
    if len(mission.layers) >= MAX_LAYERS:
        raise InvalidMissionRequest(f"a mission holds at most {MAX_LAYERS} layers")
    chosen = check_uid(uid, "uid") or str(uuid.uuid4())
    if chosen in mission.layers:
        raise InvalidMissionRequest(f"layer {chosen} exists")
    check_parent(mission, chosen, check_uid(parent, "parentUid"))
    layer = {
        "uid": chosen,
        "name": check_layer_name(name),
        "type": kind,
        "parent": parent or None,
        "after": check_uid(after, "afterUid"),
    }
    return {"op": "layer", "action": "add", "layer": layer}


def check_parent(mission: Mission, uid: str, parent: str | None) -> None:
    """A parent must exist, may not be the layer or below it, and keeps the tree shallow."""
    if parent is None:
        return
    if parent not in mission.layers:
        raise MissionNotFound(f"no layer {parent} in {mission.name!r}")
    if uid in mission.layers and parent in descendants(mission, uid):
        raise InvalidMissionRequest("a layer cannot be moved under itself")
    if depth(mission, parent) + 1 >= MAX_LAYER_DEPTH:
        raise InvalidMissionRequest(f"layers nest at most {MAX_LAYER_DEPTH} deep")


def depth(mission: Mission, uid: str) -> int:
    level, current = 0, mission.layers[uid].parent
    while current is not None and current in mission.layers and level < MAX_LAYER_DEPTH:
        level, current = level + 1, mission.layers[current].parent
    return level


def existing_layer(mission: Mission, uid: str) -> str:
    if uid not in mission.layers:
        raise MissionNotFound(f"no layer {uid} in {mission.name!r}")
    return uid


def layers_json(mission: Mission, parent: str | None = None, level: int = 0) -> list[dict[str, Any]]:
    """The layer tree below ``parent`` (the roots when None), as TAK's hydrated MissionLayers."""
    if level >= MAX_LAYER_DEPTH:
        return []
    return [
        layer_json(mission, uid, level)
        for uid, layer in mission.layers.items()
        if layer.parent == parent or (parent is None and layer.parent not in mission.layers)
    ]


def layer_json(mission: Mission, uid: str, level: int = 0) -> dict[str, Any]:
    layer = mission.layers[uid]
    data: dict[str, Any] = {"name": layer.name, "type": layer.type, "uid": layer.uid}
    if layer.parent is not None:
        data["parentUid"] = layer.parent
    children = layers_json(mission, uid, level + 1)
    if children:
        data["mission_layers"] = children
    if layer.type == "UID":
        data["uids"] = [
            uid_json(mission.uids[item], mission.uid_keywords.get(item))
            for item in layer.uids
            if item in mission.uids
        ]
    return data


def check_map_layer(value: Any, mission: Mission, *, new: bool) -> dict[str, Any]:
    """A MapLayer body: a flat JSON object of text, numbers and booleans, with a uid."""
    if not isinstance(value, dict) or len(value) > MAX_MAP_LAYER_FIELDS:
        raise InvalidMissionRequest(f"a map layer is a JSON object of at most {MAX_MAP_LAYER_FIELDS} fields")
    layer: dict[str, Any] = {}
    for key, item in value.items():
        if key in ("mission", "missionGuid") or item is None:
            continue
        if isinstance(item, str) and len(item) > MAX_MAP_LAYER_TEXT:
            raise InvalidMissionRequest(f"map layer field {key!r} is longer than {MAX_MAP_LAYER_TEXT}")
        if not isinstance(item, str | int | float | bool) or len(key) > MAX_NAME_CHARS:
            raise InvalidMissionRequest(f"map layer field {key!r} must be text, a number or a boolean")
        layer[key] = item
    uid = check_uid(str(layer.get("uid") or ""), "uid")
    if new:
        uid = uid or str(uuid.uuid4())
        if len(mission.map_layers) >= MAX_MAP_LAYERS and uid not in mission.map_layers:
            raise InvalidMissionRequest(f"a mission holds at most {MAX_MAP_LAYERS} map layers")
    elif uid is None or uid not in mission.map_layers:
        raise MissionNotFound(f"no map layer {uid!r} in {mission.name!r}")
    layer["uid"] = uid
    return layer

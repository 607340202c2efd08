"""Mission feeds (TAK's MissionFeed): one of the server's data feeds attached to a mission.

TAK Server's ``POST …/missions/{name}/feed?dataFeedUid=&filterPolygon=&filterCotTypes=&filterCallsign=``
names a data feed the server runs and the filters a client asked for; the association is kept
in the mission and listed in its ``feeds``. Here the data feeds are the ``[[feeds]]`` of the
``feeds_file``, named by their ``name``. Pure checks and JSON shapes, like
:mod:`rallypoint.missions.layers`: the API layer decodes, these decide.
"""

import json
import math
import uuid
from typing import Any

from rallypoint.errors import InvalidMissionRequest
from rallypoint.missions.model import Mission
from rallypoint.missions.requests import MAX_NAME_CHARS

MAX_FEEDS = 100
"""Feeds one mission holds at most."""
MAX_POLYGON_POINTS = 1000
MIN_POLYGON_POINTS = 3
MAX_COT_TYPES = 100
MAX_COT_TYPE_CHARS = 100
MAX_FILTER_TEXT = 16_000
"""Characters of the serialized ``filterCotTypes`` parameter read at most."""


def polygon_text(points: list[str]) -> str | None:
    """TAK's ``filterPolygon``: ``"x,y"`` points to ``"x y,x y,…"``, closed (first point repeated)."""
    if not points:
        return None
    if not MIN_POLYGON_POINTS <= len(points) <= MAX_POLYGON_POINTS:
        raise InvalidMissionRequest(
            f"filterPolygon needs {MIN_POLYGON_POINTS} to {MAX_POLYGON_POINTS} points"
        )
    pairs: list[str] = []
    for point in points:
        parts = point.replace(" ", "").split(",")
        try:
            numbers = [float(part) for part in parts]
        except ValueError:
            raise InvalidMissionRequest(f"filterPolygon point {point[:40]!r} is not x,y") from None
        if len(numbers) != 2 or not all(math.isfinite(n) for n in numbers):
            raise InvalidMissionRequest(f"filterPolygon point {point[:40]!r} is not x,y")
        pairs.append(" ".join(parts))
    if pairs[0] != pairs[-1]:
        pairs.append(pairs[0])
    return ",".join(pairs)


def cot_types_text(serialized: str | None) -> str:
    """``filterCotTypes`` (a JSON array of CoT types) as TAK keeps it: sorted, re-serialized."""
    if serialized is None or serialized == "":
        return "[]"
    if len(serialized) > MAX_FILTER_TEXT:
        raise InvalidMissionRequest("filterCotTypes is too long")
    try:
        value = json.loads(serialized)
    except ValueError:
        raise InvalidMissionRequest("filterCotTypes must be a JSON array of CoT types") from None
    if not isinstance(value, list) or len(value) > MAX_COT_TYPES:
        raise InvalidMissionRequest(f"filterCotTypes must be a JSON array of at most {MAX_COT_TYPES} types")
    if not all(isinstance(t, str) and 0 < len(t) <= MAX_COT_TYPE_CHARS and t.isprintable() for t in value):
        raise InvalidMissionRequest("each filterCotTypes entry must be a CoT type string")
    return json.dumps(sorted(set(value)), separators=(",", ":"))


def new_feed(
    mission: Mission,
    *,
    data_feed: str,
    polygon: list[str],
    cot_types: str | None,
    callsign: str | None,
) -> dict[str, Any]:
    """The journal body attaching ``data_feed`` (known and visible: checked by the caller)."""
    if len(mission.feeds) >= MAX_FEEDS:
        raise InvalidMissionRequest(f"a mission holds at most {MAX_FEEDS} feeds")
    if callsign is not None and (len(callsign) > MAX_NAME_CHARS or not callsign.isprintable()):
        raise InvalidMissionRequest(f"filterCallsign is at most {MAX_NAME_CHARS} printable characters")
    feed: dict[str, Any] = {
        "uid": str(uuid.uuid4()),
        "dataFeedUid": data_feed,
        "name": data_feed,
        "filterCotTypesSerialized": cot_types_text(cot_types),
    }
    shape = polygon_text(polygon)
    if shape is not None:
        feed["filterPolygon"] = shape
    if callsign:
        feed["filterCallsign"] = callsign
    return {"op": "feed", "action": "put", "feed": feed}


def copied_feed(feed: dict[str, Any]) -> dict[str, Any]:
    """The journal body of ``feed`` attached again to a mission copy (a new mission-feed uid)."""
    return {"op": "feed", "action": "put", "feed": {**feed, "uid": str(uuid.uuid4())}}

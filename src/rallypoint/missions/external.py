"""External mission data (TAK's ExternalMissionData): a mission's link to another tool's data.

A client saves ``{"uid", "name", "tool", "urlData", "urlView", "notes"}`` in a mission
(``POST …/missions/{name}/externaldata``), says later that the data changed (``…/{uid}/change``)
or removes it; each is a change of the mission's log that subscribers hear, carrying the data
and the caller's notes. Pure checks, like :mod:`rallypoint.missions.layers`.
"""

from typing import Any

from rallypoint.errors import InvalidMissionRequest
from rallypoint.missions.model import Mission

FIELDS = ("name", "tool", "urlData", "urlView", "notes")
"""The text fields besides ``uid``, in TAK's order (each "" when not given)."""
MAX_EXTERNAL_DATA = 100
"""External data entries one mission holds at most."""
MAX_UID_CHARS = 256
MAX_TEXT_CHARS = 4096
"""Characters of one field (URLs with their queries are long)."""


def check_text(value: Any, what: str) -> str:
    if not isinstance(value, str) or len(value) > MAX_TEXT_CHARS:
        raise InvalidMissionRequest(f"{what} must be text of at most {MAX_TEXT_CHARS} characters")
    return value


def check_external_data(value: Any, mission: Mission) -> dict[str, Any]:
    """A saved ExternalMissionData: ``uid`` required (TAK: "ExternalMissionData id must be included")."""
    if not isinstance(value, dict):
        raise InvalidMissionRequest("the body must be an ExternalMissionData object")
    uid = value.get("uid") or value.get("id")
    if not isinstance(uid, str) or not uid or len(uid) > MAX_UID_CHARS or not uid.isprintable():
        raise InvalidMissionRequest("ExternalMissionData uid must be included")
    if uid not in mission.external_data and len(mission.external_data) >= MAX_EXTERNAL_DATA:
        raise InvalidMissionRequest(f"a mission holds at most {MAX_EXTERNAL_DATA} external data entries")
    data: dict[str, Any] = {"uid": uid}
    for name in FIELDS:
        data[name] = check_text(value.get(name) or "", name)
    return data

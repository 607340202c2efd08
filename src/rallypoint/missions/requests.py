"""Validating what a request asks of a mission before anything is journaled.

Pure functions over already-decoded values (query parameters, JSON); the API layer decodes,
these decide. Limits are named so a hostile request is refused with a clear message.
"""

from typing import Any

from rallypoint.cot.timefmt import is_valid_millis, parse_time
from rallypoint.errors import InvalidEvent, InvalidMissionRequest, MissionForbidden
from rallypoint.missions.access import Actor
from rallypoint.missions.credentials import MAX_PASSWORD_CHARS
from rallypoint.missions.roles import SUBSCRIBER, check_role

MAX_NAME_CHARS = 200
MAX_DESCRIPTION_CHARS = 4000
MAX_KEYWORDS = 100
MAX_KEYWORD_CHARS = 100
MAX_ITEMS_PER_REQUEST = 1000
"""Hashes or uids one contents request may add."""
MAX_LOG_CHARS = 10_000
TOOLS = ("public", "private", "ExCheck")
INVITATION_TYPES = ("clientUid", "callsign", "userName", "group", "team")


def check_name(name: str) -> str:
    """A mission name: 1 to 200 printable characters, no slash (it is a path segment)."""
    name = name.strip()
    if not name or len(name) > MAX_NAME_CHARS or "/" in name or not name.isprintable():
        raise InvalidMissionRequest(
            f"a mission name is 1 to {MAX_NAME_CHARS} printable characters without '/'"
        )
    return name


def mission_fields(
    actor: Actor,
    name: str,
    *,
    description: str = "",
    groups: list[str] | None = None,
    tool: str | None = None,
    default_role: str | None = None,
    keywords: list[str] | None = None,
    invite_only: bool = False,
    chat_room: str = "",
) -> dict[str, Any]:
    """The journal body of a new mission (without the password hash, added by the caller)."""
    chosen = frozenset(groups) if groups else actor.groups
    if not chosen <= actor.groups:
        outside = ", ".join(sorted(chosen - actor.groups))
        raise MissionForbidden(f"you may not create a mission in groups you are not in: {outside}")
    if len(description) > MAX_DESCRIPTION_CHARS:
        raise InvalidMissionRequest(f"description longer than {MAX_DESCRIPTION_CHARS} characters")
    if (tool or "public") not in TOOLS:
        raise InvalidMissionRequest(f"tool must be one of {', '.join(TOOLS)}")
    return {
        "name": check_name(name),
        "description": description,
        "groups": sorted(chosen),
        "creatorUid": actor.uid,
        "tool": tool or "public",
        "defaultRole": check_role(default_role or SUBSCRIBER),
        "keywords": check_keywords(keywords or []),
        "inviteOnly": invite_only,
        "chatRoom": chat_room[:MAX_NAME_CHARS],
    }


def check_text(value: str, what: str) -> str:
    """A free-text mission field (description, chat room, bbox…)."""
    if len(value) > MAX_DESCRIPTION_CHARS:
        raise InvalidMissionRequest(f"{what} longer than {MAX_DESCRIPTION_CHARS} characters")
    return value


def check_tool(tool: str) -> str:
    if tool not in TOOLS:
        raise InvalidMissionRequest(f"tool must be one of {', '.join(TOOLS)}")
    return tool


def check_keywords(value: Any) -> list[str]:
    if not isinstance(value, list) or len(value) > MAX_KEYWORDS:
        raise InvalidMissionRequest(f"keywords must be a list of at most {MAX_KEYWORDS} strings")
    if not all(isinstance(word, str) and 0 < len(word) <= MAX_KEYWORD_CHARS for word in value):
        raise InvalidMissionRequest(f"each keyword must be a string of 1 to {MAX_KEYWORD_CHARS} characters")
    return list(dict.fromkeys(value))


def check_password(password: str) -> str:
    if not password or len(password) > MAX_PASSWORD_CHARS:
        raise InvalidMissionRequest(f"a password is 1 to {MAX_PASSWORD_CHARS} characters")
    return password


def check_contents(value: Any) -> tuple[list[str], list[str], dict[str, list[str]]]:
    """``{"hashes": [...], "uids": [...], "paths": {layer uid: [{"uids": [...]}]}}``: hashes,
    uids (those filed under a layer included) and the uids each layer files."""
    if not isinstance(value, dict):
        raise InvalidMissionRequest('contents must be {"hashes": [...], "uids": [...]}')
    lists = [_strings(value.get(key, []), key) for key in ("hashes", "uids")]
    paths: dict[str, list[str]] = {}
    raw_paths = value.get("paths") or {}
    if not isinstance(raw_paths, dict):
        raise InvalidMissionRequest("paths must map layer uids to lists of contents")
    for layer, entries in raw_paths.items():
        if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
            raise InvalidMissionRequest("paths must map layer uids to lists of contents")
        filed = [uid for entry in entries for uid in _strings(entry.get("uids", []), "uids")]
        paths[str(layer)[:256]] = filed
        lists[1].extend(uid for uid in filed if uid not in lists[1])
    if len(lists[0]) + len(lists[1]) > MAX_ITEMS_PER_REQUEST:
        raise InvalidMissionRequest(f"at most {MAX_ITEMS_PER_REQUEST} items per request")
    if not lists[0] and not lists[1]:
        raise InvalidMissionRequest("nothing to add: hashes and uids are empty")
    return lists[0], lists[1], paths


def _strings(items: Any, key: str) -> list[str]:
    if not isinstance(items, list) or len(items) > MAX_ITEMS_PER_REQUEST:
        raise InvalidMissionRequest(f"{key} must be a list of strings")
    if not all(isinstance(item, str) and 0 < len(item) <= 256 for item in items):
        raise InvalidMissionRequest(f"{key} must be a list of strings")
    return list(items)


def check_invitation_type(kind: str) -> str:
    if kind not in INVITATION_TYPES:
        raise InvalidMissionRequest(f"invitation type must be one of {', '.join(INVITATION_TYPES)}")
    return kind


def check_log_entry(value: Any) -> dict[str, Any]:
    """A LogEntry body: ``content`` (text), ``missionNames`` (list), optional ``dtg``, ``keywords``…"""
    if not isinstance(value, dict):
        raise InvalidMissionRequest("a log entry is a JSON object")
    content = value.get("content")
    if not isinstance(content, str) or not content or len(content) > MAX_LOG_CHARS:
        raise InvalidMissionRequest(f"content must be a string of 1 to {MAX_LOG_CHARS} characters")
    names = value.get("missionNames")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise InvalidMissionRequest("missionNames must be a non-empty list of mission names")
    dtg = value.get("dtg")
    if isinstance(dtg, str):
        try:
            dtg = parse_time(dtg)
        except InvalidEvent:
            raise InvalidMissionRequest("dtg must be an ISO 8601 time or epoch milliseconds") from None
    elif dtg is not None and (not isinstance(dtg, int) or isinstance(dtg, bool) or not is_valid_millis(dtg)):
        raise InvalidMissionRequest("dtg must be an ISO 8601 time or epoch milliseconds")
    hashes = value.get("contentHashes", [])
    if not isinstance(hashes, list) or not all(isinstance(h, str) for h in hashes):
        raise InvalidMissionRequest("contentHashes must be a list of strings")
    return {
        "content": content,
        "missionNames": names,
        "dtg": dtg,
        "keywords": check_keywords(value.get("keywords", [])),
        "contentHashes": hashes[:MAX_ITEMS_PER_REQUEST],
        "entryUid": str(value.get("entryUid") or "")[:MAX_KEYWORD_CHARS],
    }

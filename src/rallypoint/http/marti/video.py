"""Video feeds (drones, cameras) that ATAK's video tool lists, kept per group (issue 14).

One *connection* (TAK Server's ``VideoConnection``: an alias and its feeds) belongs to the groups
it was created in; a caller sees, changes and deletes only connections that share one of its
groups, exactly as with data packages. Connections are kept in the store's journal (stream
``video:<uuid>``, one entry per change) and read back once, at the first request, so they
survive a restart. Every string and list an untrusted body brings is bounded.
"""

import asyncio
import json
import uuid as uuid_module
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from rallypoint.errors import RallypointError
from rallypoint.store.base import JournalStore

JOURNAL_PREFIX = "video:"
MAX_CONNECTIONS = 1_000
"""Connections one server keeps: far more feeds than a field operation watches."""
MAX_FEEDS = 32
"""Feeds of one connection (a camera's streams and resolutions)."""
MAX_TEXT_CHARS = 2_048
"""Any one string of a feed (a URL with its token is the longest)."""

FEED_TEXT_FIELDS = (
    "alias",
    "url",
    "macAddress",
    "roverPort",
    "ignoreEmbeddedKLV",
    "networkTimeout",
    "bufferTime",
    "rtspReliable",
)
"""Feed fields TAK Server always gives as strings ("" when unset)."""
FEED_OPTIONAL_TEXT = (
    "source",
    "thumbnail",
    "classification",
    "latitude",
    "longitude",
    "fov",
    "heading",
    "range",
)
"""Feed fields that are a string or null."""
FEED_OPTIONAL_INT = ("order", "width", "height", "bitrate")
"""Feed fields that are an integer or null."""


class VideoError(RallypointError):
    """A video connection request that cannot be applied (``status`` says how to answer)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class VideoConnection:
    """One connection as stored: its JSON as TAK's clients read it, who may see it, who made it."""

    uuid: str
    body: dict[str, Any]
    groups: frozenset[str]
    owner: str | None = None

    def visible_to(self, groups: frozenset[str]) -> bool:
        return not self.groups.isdisjoint(groups)


def _text(value: Any, name: str, *, default: str | None = "") -> str | None:
    if value is None:
        return default
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise VideoError(f"{name} must be a string")
    text = str(value)
    if len(text) > MAX_TEXT_CHARS:
        raise VideoError(f"{name} is over {MAX_TEXT_CHARS} characters")
    return text


def _integer(value: Any, name: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).lstrip("-").isdigit():
        raise VideoError(f"{name} must be an integer")
    return int(value)


def normal_feed(raw: Any) -> dict[str, Any]:
    """A feed in TAK Server's full shape, from what a client sent (unknown keys dropped)."""
    if not isinstance(raw, dict):
        raise VideoError("a feed must be a JSON object")
    feed: dict[str, Any] = {
        "uuid": _text(raw.get("uuid"), "uuid", default=None) or str(uuid_module.uuid4()),
        "active": raw.get("active", True) is not False,
    }
    for name in FEED_TEXT_FIELDS:
        feed[name] = _text(raw.get(name), name)
    for name in FEED_OPTIONAL_TEXT:
        feed[name] = _text(raw.get(name), name, default=None)
    for name in FEED_OPTIONAL_INT:
        feed[name] = _integer(raw.get(name), name)
    if not feed["url"]:
        raise VideoError("a feed needs a url")
    return feed


def normal_connection(raw: Any, uuid: str | None = None) -> dict[str, Any]:
    """A connection in TAK Server's shape (``uuid``, ``active``, ``alias``, ``thumbnail``,
    ``classification``, ``feeds``), from a client's JSON."""
    if not isinstance(raw, dict):
        raise VideoError("a video connection must be a JSON object")
    feeds = raw.get("feeds", [])
    if not isinstance(feeds, list) or len(feeds) > MAX_FEEDS:
        raise VideoError(f"feeds must be a list of at most {MAX_FEEDS}")
    return {
        "uuid": uuid or _text(raw.get("uuid"), "uuid", default=None) or str(uuid_module.uuid4()),
        "active": raw.get("active", True) is not False,
        "alias": _text(raw.get("alias"), "alias"),
        "thumbnail": _text(raw.get("thumbnail"), "thumbnail", default=None),
        "classification": _text(raw.get("classification"), "classification", default=None),
        "feeds": [normal_feed(feed) for feed in feeds],
    }


@dataclass
class VideoBook:
    """The connections of this server, loaded from the journal on first use."""

    store_of: Callable[[], JournalStore | None]
    """The open store, or None while it is closed (requests then answer 503)."""
    connections: dict[str, VideoConnection] = field(default_factory=dict)
    _loaded: bool = False
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def visible(self, groups: frozenset[str]) -> list[VideoConnection]:
        await self._load()
        chosen = [c for c in self.connections.values() if c.visible_to(groups)]
        return sorted(chosen, key=lambda c: (str(c.body.get("alias")), c.uuid))

    async def get(self, uuid: str, groups: frozenset[str]) -> VideoConnection | None:
        """The connection ``uuid`` if ``groups`` may see it; None otherwise (never say which)."""
        await self._load()
        connection = self.connections.get(uuid)
        return connection if connection is not None and connection.visible_to(groups) else None

    async def put(self, connection: VideoConnection, caller_groups: frozenset[str], now_ms: int) -> None:
        """Create or replace. Replacing keeps the stored groups and needs the caller to see it;
        a uuid held by a connection the caller cannot see is refused like any other bad uuid."""
        async with self._lock:
            await self._load_locked()
            existing = self.connections.get(connection.uuid)
            if existing is not None:
                if not existing.visible_to(caller_groups):
                    raise VideoError("this uuid cannot be used", 400)
                connection = replace(connection, groups=existing.groups, owner=existing.owner)
            elif len(self.connections) >= MAX_CONNECTIONS:
                raise VideoError(f"this server keeps at most {MAX_CONNECTIONS} video connections", 409)
            body = {
                "connection": connection.body,
                "groups": sorted(connection.groups),
                "owner": connection.owner,
            }
            await self._journal().append_journal(
                JOURNAL_PREFIX + connection.uuid, now_ms, connection.owner, json.dumps(body)
            )
            self.connections[connection.uuid] = connection

    async def delete(self, uuid: str, groups: frozenset[str], author: str | None, now_ms: int) -> bool:
        async with self._lock:
            await self._load_locked()
            existing = self.connections.get(uuid)
            if existing is None or not existing.visible_to(groups):
                return False
            await self._journal().append_journal(
                JOURNAL_PREFIX + uuid, now_ms, author, json.dumps({"deleted": True})
            )
            del self.connections[uuid]
            return True

    def _journal(self) -> JournalStore:
        store = self.store_of()
        if store is None:
            raise VideoError("the store is not open", 503)
        return store

    async def _load(self) -> None:
        if not self._loaded:
            async with self._lock:
                await self._load_locked()

    async def _load_locked(self) -> None:
        if self._loaded:
            return
        for entry in await self._journal().read_journal(JOURNAL_PREFIX):
            uuid = entry.stream[len(JOURNAL_PREFIX) :]
            body = json.loads(entry.body)
            if body.get("deleted"):
                self.connections.pop(uuid, None)
            else:
                self.connections[uuid] = VideoConnection(
                    uuid, body["connection"], frozenset(body["groups"]), body.get("owner")
                )
        self._loaded = True

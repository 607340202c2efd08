"""The storage interface: routed events (history, cache rebuild) and the data-package index.

Two implementations share it (``sqlite.py`` embedded by default, ``postgres.py`` at scale),
with the same schema (``schema.py``) and the same batched single writer (``writer.py``).
Callers on the event loop only ever *enqueue* events (:meth:`Store.record` never blocks);
everything else is a coroutine.
"""

from collections.abc import Sequence
from typing import NamedTuple, Protocol

TOOL_PUBLIC = "public"
TOOL_PRIVATE = "private"


class StoredEvent(NamedTuple):
    """One routed event as kept for history and for rebuilding the situation cache."""

    uid: str
    type: str
    time: int
    """Milliseconds since the epoch, like ``stale``."""
    stale: int
    lat: float
    lon: float
    hae: float
    groups: frozenset[str]
    """The sender's groups when it was routed: who may read it back."""
    sender: str | None
    """The sender's identity (TLS user), or None for anonymous."""
    xml: bytes
    """The event as CoT XML, ``<marti>`` stripped."""


class PackageRecord(NamedTuple):
    """One uploaded file (data package or plain file) in the index."""

    hash: str
    """SHA-256 hex of the content, also its file name on disk."""
    name: str
    filename: str
    mime_type: str
    size: int
    submitter: str | None
    creator_uid: str | None
    groups: frozenset[str]
    keywords: tuple[str, ...]
    tool: str
    """``public`` or ``private``."""
    submitted: int
    """Milliseconds since the epoch."""
    uid: str
    """The package's own uid (manifest Configuration uid, else a uuid4)."""


class Store(Protocol):
    """Persistent events and package index (see the module docstring)."""

    async def open(self) -> None:
        """Connect, run migrations, start the single writer task."""

    async def close(self) -> None:
        """Flush what is queued, stop the writer, disconnect."""

    def record(self, event: StoredEvent) -> bool:
        """Enqueue ``event`` for the batched writer; never blocks. False (counted) if the queue is full."""

    async def flush(self) -> None:
        """Return when everything recorded before the call is committed."""

    def lag(self) -> int:
        """Events queued and not yet committed."""

    async def query_events(
        self,
        *,
        start: int | None = None,
        end: int | None = None,
        uid: str | None = None,
        type_prefix: str | None = None,
        bbox: tuple[float, float, float, float] | None = None,
        groups: frozenset[str] | None = None,
        limit: int = 1000,
    ) -> list[StoredEvent]:
        """Events in time order. ``start``/``end`` bound ``time`` (inclusive); ``bbox`` is
        ``(min_lat, min_lon, max_lat, max_lon)`` (``min_lon > max_lon`` crosses the antimeridian);
        ``groups`` keeps only events whose groups intersect it."""

    async def latest_events(self, now_ms: int) -> list[StoredEvent]:
        """The latest event of every uid, when that event's stale time is after ``now_ms``."""

    async def purge_before(self, time_ms: int) -> int:
        """Delete events with ``time`` before ``time_ms`` (retention); return how many."""

    async def put_package(self, record: PackageRecord) -> None:
        """Insert ``record``, or replace the one with the same hash."""

    async def package(self, hash: str) -> PackageRecord | None:
        """The record with this hash."""

    async def search_packages(
        self,
        *,
        keywords: Sequence[str] = (),
        tool: str | None = None,
        name: str | None = None,
        groups: frozenset[str] | None = None,
    ) -> list[PackageRecord]:
        """Records having every keyword given, the tool and exact name if given, and (if ``groups``
        is given) a group in common with it; newest first."""

    async def set_package_tool(self, hash: str, tool: str) -> bool:
        """Change a record's tool; False if there is no such record."""


def type_upper_bound(prefix: str) -> str:
    """The smallest string above every string starting with ``prefix`` (binary collation):
    ``prefix <= type < bound`` is a prefix match that can use the index on ``type``."""
    return prefix + "\U0010ffff"

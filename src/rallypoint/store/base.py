"""The storage interface, as five small protocols and the :class:`Store` that is all of them.

:class:`EventStore` (routed events: history, cache rebuild, retention), :class:`PackageStore`
(the data-package index), :class:`JournalStore` (the components' append-only journal),
:class:`MailStore` (store-and-forward for offline clients) and :class:`LostStore` (the units
the command post lost contact with). A caller names the slice it uses,
so a test fakes only that slice (one in-memory fake serves them all). Two implementations
provide the whole :class:`Store` (``sqlite.py`` embedded by default, ``postgres.py`` at
scale), with the same schema (``schema.py``) and the same batched single writer
(``writer.py``). Callers on the event loop only ever *enqueue* events
(:meth:`EventStore.record` never blocks); everything else is a coroutine.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol

TOOL_PUBLIC = "public"
TOOL_PRIVATE = "private"
ANY_SUBMITTER: object = object()
"""Default of the record edits: every record of the hash, whoever submitted it (admin use)."""


def owner_key(submitter: object) -> str | None:
    """The ``owner`` column a record edit is limited to (None: any), from its ``submitter``."""
    if submitter is ANY_SUBMITTER:
        return None
    return submitter if isinstance(submitter, str) else ""


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
    recipients: frozenset[str] = frozenset()
    """For a directed message: the identities it was handed to (they may read it back)."""
    crossing: str | None = None
    """An event that entered from another site: its key there (remote, uid, time), stored once."""


NO_EXPIRATION = -1
"""TAK's "never expires" for a file's ``EXPIRATION``."""


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
    expiration: int = NO_EXPIRATION
    """Epoch seconds after which the file is no longer offered; ``NO_EXPIRATION`` (-1): never."""


class JournalEntry(NamedTuple):
    """One durable, append-only record of a component's state change (missions, objectives…).

    Components keep their state in memory and rebuild it at start by replaying their journal
    stream in ``id`` order: one table serves every such component, in both databases.
    """

    id: int
    """Increasing across all streams: the order changes were accepted in."""
    stream: str
    """Which component and object, e.g. ``mission:<guid>``; read back by prefix."""
    time: int
    """Milliseconds since the epoch."""
    author: str | None
    body: str
    """JSON text; its shape belongs to the component that wrote it."""


class MailDraft(NamedTuple):
    """A message to keep, not written yet (:meth:`Store.put_mail_many`)."""

    recipient: str
    time: int
    xml: bytes
    sender: str | None = None
    """The sending device's uid, told if the message expires unread (None: nobody to tell)."""
    crossing: str | None = None
    """Mail that entered from another site: its crossing key, kept once per recipient."""


class MailItem(NamedTuple):
    """A message kept for a recipient that was offline (store-and-forward)."""

    id: int
    """Increasing: delivery order."""
    recipient: str
    """The recipient device's uid."""
    time: int
    """When it was kept (milliseconds since the epoch): its age counts from here."""
    xml: bytes
    sender: str | None = None


class LostRecord(NamedTuple):
    """A unit the command post lost contact with, as kept across a restart."""

    uid: str
    since: int
    """When contact was lost (milliseconds since the epoch)."""
    reason: str
    """``disconnected`` or ``stale``."""
    groups: frozenset[str]
    """The groups its last report was routed into (who may see it)."""
    xml: bytes
    """Its last report as CoT XML."""


class InjectorRecord(NamedTuple):
    """A CoT injector as kept across a restart: ``element`` joins the detail of ``uid``'s events."""

    uid: str
    element: str
    """One empty XML element with attributes, as the server wrote it (``<remarks a="b"/>``)."""
    groups: frozenset[str]
    """The groups of the administrator who set it: it applies to senders in one of them."""
    creator: str | None
    created: int
    """Milliseconds since the epoch."""


@dataclass(frozen=True, slots=True)
class EventQuery:
    """What :meth:`EventStore.query_events` selects; every filter given must hold.

    One value rather than eight keyword arguments, so the protocol, both stores and the
    fake share the filter's definition and the SQL is built once (``query.py``).
    """

    start: int | None = None
    """Lowest ``time`` kept (inclusive), like ``end`` the highest."""
    end: int | None = None
    uid: str | None = None
    type_prefix: str | None = None
    bbox: tuple[float, float, float, float] | None = None
    """``(min_lat, min_lon, max_lat, max_lon)``; ``min_lon > max_lon`` crosses the antimeridian."""
    groups: frozenset[str] | None = None
    """Keep only events whose groups intersect these, or (with ``reader``) that the identity
    ``reader`` sent or received as a directed message."""
    reader: str | None = None
    limit: int = 1000


class EventStore(Protocol):
    """Routed events: recorded by the batched writer, read back for history and the cache."""

    def record(self, event: StoredEvent) -> bool:
        """Enqueue ``event`` for the batched writer; never blocks. False (counted) if the queue is full."""

    async def flush(self) -> None:
        """Return when everything recorded before the call is committed."""

    def lag(self) -> int:
        """Events queued and not yet committed."""

    def write_health(self) -> tuple[int, str | None]:
        """Events lost to failed transactions so far, and why the last one failed (None: it recovered)."""

    async def query_events(self, query: "EventQuery") -> list[StoredEvent]:
        """The events ``query`` selects, in time order."""

    async def latest_events(self, now_ms: int) -> list[StoredEvent]:
        """The latest event of every uid, when that event's stale time is after ``now_ms``."""

    async def purge_before(self, time_ms: int) -> int:
        """Delete events with ``time`` before ``time_ms`` (retention); return how many."""


class PackageStore(Protocol):
    """The index of uploaded files (data packages and plain files)."""

    async def put_package(self, record: PackageRecord) -> None:
        """Insert ``record``, or replace the one with the same hash and submitter.

        Records are per (hash, submitter): the same bytes from another identity are another
        record, with its own groups and rights; anonymous uploads share the submitter None."""

    async def package(self, hash: str) -> PackageRecord | None:
        """The newest record with this hash (any submitter)."""

    async def packages_of(self, hash: str) -> list[PackageRecord]:
        """Every record with this hash, newest first."""

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

    async def set_package_tool(self, hash: str, tool: str, submitter: object = ANY_SUBMITTER) -> bool:
        """Change the tool of the record of ``hash`` by ``submitter`` (default: every record of
        ``hash``); False if there is no such record."""

    async def set_package_keywords(
        self, hash: str, keywords: Sequence[str], submitter: object = ANY_SUBMITTER
    ) -> bool:
        """Replace a record's keywords (chosen as for :meth:`set_package_tool`); False if none."""

    async def set_package_expiration(
        self, hash: str, expiration: int, submitter: object = ANY_SUBMITTER
    ) -> bool:
        """Set when a record expires (epoch seconds, -1 never; chosen as for
        :meth:`set_package_tool`); False if there is no such record."""

    async def delete_package(self, hash: str, submitter: object = ANY_SUBMITTER) -> bool:
        """Remove a record (chosen as for :meth:`set_package_tool`); False if there was none."""


class JournalStore(Protocol):
    """Append-only journal streams from which components rebuild their state."""

    async def append_journal(self, stream: str, time: int, author: str | None, body: str) -> int:
        """Commit one entry in its own transaction (durable on return); return its id."""

    async def read_journal(
        self, stream_prefix: str, *, after_id: int = 0, limit: int = 100_000
    ) -> list[JournalEntry]:
        """Entries whose stream starts with ``stream_prefix`` and whose id is above ``after_id``, by id."""


class MailStore(Protocol):
    """Messages kept for offline recipients until they are delivered."""

    async def put_mail(self, recipient: str, time: int, xml: bytes) -> int:
        """Keep ``xml`` for ``recipient`` until delivered (durable on return); return its id."""

    async def put_mail_many(self, items: Sequence[MailDraft]) -> None:
        """Keep every item in one transaction (durable on return), ids increasing in list order."""

    async def mail_for(self, recipient: str, *, after_id: int = 0, limit: int = 10_000) -> list[MailItem]:
        """Undelivered items for ``recipient`` with ids above ``after_id``, oldest first."""

    async def mail_count(self, recipient: str) -> int:
        """How many undelivered items are kept for ``recipient`` (the per-recipient limit)."""

    async def mail_bytes(self, recipient: str) -> int:
        """Total size of the undelivered items kept for ``recipient`` (the per-recipient bytes limit)."""

    async def expire_mail(self, before: int, *, limit: int = 1000) -> list[MailItem]:
        """Remove the undelivered items kept before ``before`` (ms), oldest first, at most ``limit``,
        and return them; delivered items kept before ``before`` are removed too (nothing reads them)."""

    async def mark_delivered(self, ids: Sequence[int], time: int) -> None:
        """Record that these items reached their recipient (its TCP stack acknowledged them)."""


class LostStore(Protocol):
    """The units the command post lost contact with, one row per uid."""

    async def put_lost(self, record: LostRecord) -> None:
        """Keep ``record``, replacing the one of the same uid."""

    async def drop_lost(self, uids: Sequence[str]) -> None:
        """Forget these units (they reported again, or were kept long enough)."""

    async def lost_units(self) -> list[LostRecord]:
        """Every kept unit, the one lost longest ago first."""


class SettingStore(Protocol):
    """What administrators set on the running server over the API, and the groups it served."""

    async def put_injector(self, record: InjectorRecord) -> None:
        """Keep ``record`` (the same uid and element twice is one injector)."""

    async def drop_injectors(self, uid: str, element: str | None = None) -> None:
        """Forget the injectors of ``uid`` (only the one of ``element`` if given)."""

    async def injectors(self) -> list[InjectorRecord]:
        """Every kept injector, the oldest first."""

    async def group_created(self, names: Sequence[str], now_ms: int) -> dict[str, int]:
        """When each group of ``names`` was first served; those never served are kept as now."""


class FederationStore(Protocol):
    """How far each remote site's stream was routed with every effect durable (site federation)."""

    async def federation_mark(self, remote: str) -> int:
        """The last stream sequence of ``remote`` routed and stored (0: none yet)."""

    async def set_federation_mark(self, remote: str, sequence: int) -> None:
        """Keep ``sequence`` as ``remote``'s mark (call once what it covers is committed)."""


class Store(
    EventStore, PackageStore, JournalStore, MailStore, LostStore, SettingStore, FederationStore, Protocol
):
    """The whole store, as the server opens and closes it."""

    async def open(self) -> None:
        """Connect, run migrations, start the single writer task."""

    async def close(self) -> None:
        """Flush what is queued, stop the writer, disconnect."""


def type_upper_bound(prefix: str) -> str:
    """The smallest string above every string starting with ``prefix`` (binary collation):
    ``prefix <= type < bound`` is a prefix match that can use the index on ``type``."""
    return prefix + "\U0010ffff"


def redacted_url(url: str) -> str:
    """A store URL without its password, for messages and reports."""
    scheme, _, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    return f"{scheme}://{credentials.split(':')[0]}{at}{host}" if at else url

# ruff: noqa: S608 -- SQL is assembled from constant column names and placeholders; values are bound
"""The SQL both stores run, written once; a :class:`Dialect` says how each database spells it.

Every statement is written with ``?`` placeholders and every list column is reached through
the dialect's few operators, so SQLite (lists as JSON text, searched with ``json_each``) and
PostgreSQL (``TEXT[]`` with ``&&`` and ``ANY``, placeholders ``$n``) run the same queries.
Every filter of :meth:`rallypoint.store.base.EventStore.query_events` is done in SQL, so
``LIMIT`` counts matching rows: the type prefix as a range on the binary-collated ``type``
index, the box on ``lat``/``lon``, the groups with the dialect's overlap operator.
"""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from rallypoint.store import schema
from rallypoint.store.base import (
    EventQuery,
    InjectorRecord,
    LostRecord,
    MailItem,
    PackageRecord,
    StoredEvent,
    owner_key,
    type_upper_bound,
)

EVENT_SELECT = f"SELECT {', '.join(schema.EVENT_COLUMNS)} FROM events"
PACKAGE_SELECT = f"SELECT {', '.join(schema.PACKAGE_COLUMNS)} FROM packages"
_EVENT_MARKS = ", ".join("?" * (len(schema.EVENT_COLUMNS) + 1))
INSERT_EVENT = (
    f"INSERT INTO events ({', '.join(schema.EVENT_COLUMNS)}, crossing) VALUES ({_EVENT_MARKS}) "
    "ON CONFLICT DO NOTHING"
)
"""A row with a crossing key stored already (an event routed again after a restart) is skipped."""
FEDERATION_MARK = "SELECT sequence FROM federation_marks WHERE remote = ?"
SET_FEDERATION_MARK = (
    "INSERT INTO federation_marks (remote, sequence) VALUES (?, ?) "
    "ON CONFLICT (remote) DO UPDATE SET sequence = excluded.sequence"
)
PURGE_EVENTS = "DELETE FROM events WHERE time < ?"
PACKAGES_OF = f"{PACKAGE_SELECT} WHERE hash = ? ORDER BY submitted DESC, owner"
APPEND_JOURNAL = "INSERT INTO journal (stream, time, author, body) VALUES (?, ?, ?, ?)"
READ_JOURNAL = (
    f"SELECT {', '.join(schema.JOURNAL_COLUMNS)} FROM journal "
    "WHERE stream >= ? AND stream < ? AND id > ? ORDER BY id LIMIT ?"
)
MAIL_COLUMNS = "id, recipient, time, xml, sender"
"""The columns of a :class:`MailItem`, in its order."""
PUT_MAIL = (
    "INSERT INTO mail (recipient, time, xml, sender, crossing) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
)
"""Mail from another site kept already (its crossing key, routed again after a restart) is skipped."""
MAIL_FOR = (
    f"SELECT {MAIL_COLUMNS} FROM mail WHERE recipient = ? AND delivered IS NULL "
    "AND id > ? ORDER BY id LIMIT ?"
)
MAIL_COUNT = "SELECT count(*) FROM mail WHERE recipient = ? AND delivered IS NULL"
MAIL_BYTES = "SELECT coalesce(sum(length(xml)), 0) FROM mail WHERE recipient = ? AND delivered IS NULL"
EXPIRED_MAIL_IDS = "SELECT id FROM mail WHERE delivered IS NULL AND time < ? ORDER BY time, id LIMIT ?"
"""The oldest undelivered items kept before a time, at most a number of them."""
PURGE_DELIVERED_MAIL = "DELETE FROM mail WHERE delivered IS NOT NULL AND time < ?"
PUT_LOST = (
    f"INSERT INTO lost_units ({', '.join(schema.LOST_COLUMNS)}) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (uid) DO UPDATE SET since = excluded.since, reason = excluded.reason, "
    "groups = excluded.groups, xml = excluded.xml"
)
"""An upsert both databases spell the same way (SQLite since 3.24)."""
DROP_LOST = "DELETE FROM lost_units WHERE uid = ?"
LOST_UNITS = f"SELECT {', '.join(schema.LOST_COLUMNS)} FROM lost_units ORDER BY since, uid"
PUT_INJECTOR = (
    f"INSERT INTO injectors ({', '.join(schema.INJECTOR_COLUMNS)}) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (uid, element) DO NOTHING"
)
DROP_INJECTORS = "DELETE FROM injectors WHERE uid = ?"
DROP_INJECTOR = "DELETE FROM injectors WHERE uid = ? AND element = ?"
INJECTORS = f"SELECT {', '.join(schema.INJECTOR_COLUMNS)} FROM injectors ORDER BY created, uid, element"
PUT_GROUP_NAME = "INSERT INTO group_names (name, created) VALUES (?, ?) ON CONFLICT (name) DO NOTHING"
GROUP_NAMES = "SELECT name, created FROM group_names"
SET_TOOL = "UPDATE packages SET tool = ?"
SET_KEYWORDS = "UPDATE packages SET keywords = ?"
SET_EXPIRATION = "UPDATE packages SET expiration = ?"
DELETE_PACKAGE = "DELETE FROM packages"


@dataclass(frozen=True, slots=True)
class Dialect:
    """How one database spells placeholders and list columns."""

    numbered: bool
    """Placeholders ``$1, $2…`` (PostgreSQL) rather than ``?`` (SQLite)."""
    list_value: Callable[[Iterable[str]], object]
    """A list bound as a parameter (JSON text or a Python list); a set is bound sorted."""
    list_of: Callable[[Any], Iterable[str]]
    """A list column as read back."""
    overlaps: Callable[[str], str]
    """The condition that a list column shares an element with the list bound at its ``?``."""
    has: Callable[[str], str]
    """The condition that the value bound at its ``?`` is an element of a list column."""

    def sql(self, text: str) -> str:
        """``text`` with its ``?`` placeholders in this dialect's style."""
        if not self.numbered:
            return text
        pieces = text.split("?")
        return "".join(f"{piece}${n}" for n, piece in enumerate(pieces[:-1], start=1)) + pieces[-1]


def event_row(dialect: Dialect, event: StoredEvent) -> tuple[Any, ...]:
    """``event`` as the values of :data:`INSERT_EVENT`."""
    groups, recipients = dialect.list_value(event.groups), dialect.list_value(event.recipients)
    return (*event[:7], groups, event.sender, event.xml, recipients, event.crossing)


def event_from_row(dialect: Dialect, row: Sequence[Any]) -> StoredEvent:
    """A row of :data:`EVENT_SELECT` as a :class:`StoredEvent`."""
    uid, type_, time_, stale, lat, lon, hae, groups, sender, xml, recipients = row
    return StoredEvent(
        uid,
        type_,
        time_,
        stale,
        lat,
        lon,
        hae,
        frozenset(dialect.list_of(groups)),
        sender,
        bytes(xml),
        frozenset(dialect.list_of(recipients)),
    )


def mail_item(row: Sequence[Any]) -> MailItem:
    """One row of :data:`MAIL_COLUMNS` (a BLOB or BYTEA becomes bytes)."""
    return MailItem(row[0], row[1], row[2], bytes(row[3]), row[4])


def lost_row(dialect: Dialect, record: LostRecord) -> tuple[Any, ...]:
    """``record`` as the values of :data:`PUT_LOST`."""
    return (record.uid, record.since, record.reason, dialect.list_value(record.groups), record.xml)


def lost_from_row(dialect: Dialect, row: Sequence[Any]) -> LostRecord:
    """A row of :data:`LOST_UNITS` (a BLOB or BYTEA becomes bytes)."""
    uid, since, reason, groups, xml = row
    return LostRecord(uid, since, reason, frozenset(dialect.list_of(groups)), bytes(xml))


def injector_row(dialect: Dialect, record: InjectorRecord) -> tuple[Any, ...]:
    """``record`` as the values of :data:`PUT_INJECTOR`."""
    return (record.uid, record.element, dialect.list_value(record.groups), record.creator, record.created)


def injector_from_row(dialect: Dialect, row: Sequence[Any]) -> InjectorRecord:
    """A row of :data:`INJECTORS`."""
    uid, element, groups, creator, created = row
    return InjectorRecord(uid, element, frozenset(dialect.list_of(groups)), creator, created)


def drop_injectors_sql(uid: str, element: str | None) -> tuple[str, tuple[str, ...]]:
    """The statement (``?`` placeholders) and values forgetting ``uid``'s injectors."""
    return (DROP_INJECTORS, (uid,)) if element is None else (DROP_INJECTOR, (uid, element))


def package_row(dialect: Dialect, record: PackageRecord) -> tuple[Any, ...]:
    """``record`` as the values of its columns, then its ``owner``."""
    groups = dialect.list_value(record.groups)
    keywords = dialect.list_value(record.keywords)
    return (*record[:7], groups, keywords, *record[9:], schema.package_owner(record.submitter))


def package_from_row(dialect: Dialect, row: Sequence[Any]) -> PackageRecord:
    """A row of :data:`PACKAGE_SELECT` as a :class:`PackageRecord`."""
    hash_, name, filename, mime_type, size, submitter, creator_uid, groups, keywords, *rest = row
    tool, submitted, uid, expiration = rest
    return PackageRecord(
        hash_,
        name,
        filename,
        mime_type,
        size,
        submitter,
        creator_uid,
        frozenset(dialect.list_of(groups)),
        tuple(dialect.list_of(keywords)),
        tool,
        submitted,
        uid,
        expiration,
    )


def _where(terms: Sequence[str]) -> str:
    return f" WHERE {' AND '.join(terms)}" if terms else ""


def events_sql(dialect: Dialect, query: EventQuery) -> tuple[str, list[object]]:
    """The statement and values selecting ``query``'s events in time order."""
    terms: list[str] = []
    values: list[object] = []
    if query.start is not None:
        terms.append("time >= ?")
        values.append(query.start)
    if query.end is not None:
        terms.append("time <= ?")
        values.append(query.end)
    if query.uid is not None:
        terms.append("uid = ?")
        values.append(query.uid)
    if query.type_prefix:
        terms.append("type >= ? AND type < ?")
        values += [query.type_prefix, type_upper_bound(query.type_prefix)]
    if query.bbox is not None:
        min_lat, min_lon, max_lat, max_lon = query.bbox
        joiner = "AND" if min_lon <= max_lon else "OR"  # OR: the box crosses the antimeridian
        terms.append(f"lat BETWEEN ? AND ? AND (lon >= ? {joiner} lon <= ?)")
        values += [min_lat, max_lat, min_lon, max_lon]
    if query.groups is not None:
        visible = dialect.overlaps("events.groups")
        values.append(dialect.list_value(query.groups))
        if query.reader is not None:
            visible = f"({visible} OR sender = ? OR {dialect.has('events.recipients')})"
            values += [query.reader, query.reader]
        terms.append(visible)
    values.append(query.limit)
    return dialect.sql(f"{EVENT_SELECT}{_where(terms)} ORDER BY time, id LIMIT ?"), values


def packages_sql(
    dialect: Dialect,
    *,
    keywords: Sequence[str],
    tool: str | None,
    name: str | None,
    groups: frozenset[str] | None,
) -> tuple[str, list[object]]:
    """The statement and values of a package search (see the protocol), newest first."""
    terms = [dialect.has("packages.keywords") for _ in keywords]
    values: list[object] = list(keywords)
    for column, value in (("tool", tool), ("name", name)):
        if value is not None:
            terms.append(f"{column} = ?")
            values.append(value)
    if groups is not None:
        terms.append(dialect.overlaps("packages.groups"))
        values.append(dialect.list_value(groups))
    return dialect.sql(f"{PACKAGE_SELECT}{_where(terms)} ORDER BY submitted DESC, hash"), values


def change_sql(
    dialect: Dialect, statement: str, values: Sequence[object], hash: str, submitter: object
) -> tuple[str, list[object]]:
    """``statement`` limited to the records of ``hash`` (by ``submitter`` unless any)."""
    owner = owner_key(submitter)
    if owner is None:
        return dialect.sql(f"{statement} WHERE hash = ?"), [*values, hash]
    return dialect.sql(f"{statement} WHERE hash = ? AND owner = ?"), [*values, hash, owner]

# ruff: noqa: S608 -- SQL is assembled from constant column names and placeholders; values are bound
"""The embedded store: one SQLite file in WAL mode, used from one dedicated thread.

``sqlite3`` blocks, so every statement runs on a single worker thread that owns the one
connection: reads and the writer's batches are serialised there and never block the event
loop. WAL with ``synchronous=NORMAL`` makes each commit survive the process being killed
(the OS has the pages); a power cut may lose the last commits, never corrupt the file.
Lists (groups, keywords) are JSON text, searched with ``json_each`` in SQL.
"""

import asyncio
import functools
import json
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from rallypoint.errors import StoreError
from rallypoint.store import schema
from rallypoint.store.base import (
    ANY_SUBMITTER,
    JournalEntry,
    MailDraft,
    MailItem,
    PackageRecord,
    StoredEvent,
    owner_key,
    type_upper_bound,
)
from rallypoint.store.query import Params, event_conditions, where
from rallypoint.store.writer import BatchWriter

T = TypeVar("T")

BUSY_TIMEOUT_MS = 5000
"""How long a statement waits for a lock held by another process (a CLI reading the file)."""

_EVENT_SELECT = f"SELECT {', '.join(schema.EVENT_COLUMNS)} FROM events"
_PACKAGE_SELECT = f"SELECT {', '.join(schema.PACKAGE_COLUMNS)} FROM packages"
_GROUPS_MATCH = (
    "EXISTS (SELECT 1 FROM json_each({column}) AS g WHERE g.value IN (SELECT value FROM json_each({param})))"
)


def _json_list(values: Sequence[str] | frozenset[str]) -> str:
    return json.dumps(sorted(values))


@functools.lru_cache(maxsize=1024)
def _groups_json(groups: frozenset[str]) -> str:
    """Senders are few and keep their groups (recipient sets repeat too): encode each set once."""
    return _json_list(groups)


def _event_row(event: StoredEvent) -> tuple[Any, ...]:
    return (*event[:7], _groups_json(event.groups), event.sender, event.xml, _groups_json(event.recipients))


def _event(row: tuple[Any, ...]) -> StoredEvent:
    uid, type_, time_, stale, lat, lon, hae, groups, sender, xml, recipients = row
    return StoredEvent(
        uid,
        type_,
        time_,
        stale,
        lat,
        lon,
        hae,
        frozenset(json.loads(groups)),
        sender,
        bytes(xml),
        frozenset(json.loads(recipients)),
    )


def _package_row(record: PackageRecord) -> tuple[Any, ...]:
    return (*record[:7], _json_list(record.groups), json.dumps(list(record.keywords)), *record[9:])


def _package(row: tuple[Any, ...]) -> PackageRecord:
    (
        hash_,
        name,
        filename,
        mime_type,
        size,
        submitter,
        creator_uid,
        groups,
        keywords,
        tool,
        submitted,
        uid,
        expiration,
    ) = row
    return PackageRecord(
        hash_,
        name,
        filename,
        mime_type,
        size,
        submitter,
        creator_uid,
        frozenset(json.loads(groups)),
        tuple(json.loads(keywords)),
        tool,
        submitted,
        uid,
        expiration,
    )


class SqliteStore:
    """:class:`rallypoint.store.base.Store` on a SQLite file."""

    def __init__(self, path: Path, *, queue_max: int = 100_000) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rallypoint-sqlite")
        self._db: sqlite3.Connection | None = None
        self.writer = BatchWriter(self._insert, queue_max)

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``work`` on the store's thread; sqlite errors become :class:`StoreError`."""

        def call() -> T:
            if self._db is None:
                raise StoreError(f"store {self.path} is not open")
            try:
                return work(self._db)
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path}: {exc}") from exc

        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    async def open(self) -> None:
        """Create the file if needed, migrate it, start the writer."""
        await asyncio.get_running_loop().run_in_executor(self._executor, self._connect)
        await self._run(self._migrate)
        self.writer.start()

    def _connect(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open {self.path}: {exc}") from exc
        try:
            db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.Error as exc:
            db.close()
            raise StoreError(f"cannot open {self.path}: {exc}") from exc
        self._db = db

    @staticmethod
    def _migrate(db: sqlite3.Connection) -> None:
        db.execute(schema.CREATE_VERSION_TABLE)
        db.execute("BEGIN IMMEDIATE")
        try:
            current = db.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0]
            for number, statements in schema.pending(schema.SQLITE, current):
                for statement in statements:
                    db.execute(statement)
                db.execute("INSERT INTO schema_version VALUES (?, ?)", (number, time.time_ns() // 1_000_000))
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    async def close(self) -> None:
        """Commit what is queued, then close the file and the thread."""
        await self.writer.stop()
        if self._db is not None:
            db, self._db = self._db, None
            await asyncio.get_running_loop().run_in_executor(self._executor, db.close)
        self._executor.shutdown(wait=True)

    def record(self, event: StoredEvent) -> bool:
        """Queue ``event`` for the writer (never blocks)."""
        return self.writer.record(event)

    async def flush(self) -> None:
        """Wait for everything recorded so far to be committed."""
        await self.writer.flush()

    def lag(self) -> int:
        """Events queued, not yet committed."""
        return self.writer.lag()

    def write_health(self) -> tuple[int, str | None]:
        """Events lost to failed transactions, and the last failure (None once one committed)."""
        return self.writer.failed, self.writer.last_error

    async def _insert(self, batch: list[StoredEvent]) -> None:
        columns = ", ".join(schema.EVENT_COLUMNS)
        statement = f"INSERT INTO events ({columns}) VALUES ({', '.join('?' * len(schema.EVENT_COLUMNS))})"

        def insert(db: sqlite3.Connection) -> None:
            rows = [_event_row(event) for event in batch]  # here, off the event loop
            with db:  # one transaction per batch
                db.execute("BEGIN")
                db.executemany(statement, rows)

        await self._run(insert)

    async def query_events(
        self,
        *,
        start: int | None = None,
        end: int | None = None,
        uid: str | None = None,
        type_prefix: str | None = None,
        bbox: tuple[float, float, float, float] | None = None,
        groups: frozenset[str] | None = None,
        reader: str | None = None,
        limit: int = 1000,
    ) -> list[StoredEvent]:
        """Matching events in time order (see the protocol)."""
        params = Params(numbered=False)
        terms = event_conditions(params, start=start, end=end, uid=uid, type_prefix=type_prefix, bbox=bbox)
        if groups is not None:
            visible = _GROUPS_MATCH.format(column="events.groups", param=params(_json_list(groups)))
            if reader is not None:
                visible = (
                    f"({visible} OR sender = {params(reader)} OR EXISTS (SELECT 1 FROM "
                    f"json_each(events.recipients) AS r WHERE r.value = {params(reader)}))"
                )
            terms.append(visible)
        sql = f"{_EVENT_SELECT}{where(terms)} ORDER BY time, id LIMIT {params(limit)}"
        rows = await self._run(lambda db: db.execute(sql, params.values).fetchall())
        return [_event(row) for row in rows]

    async def latest_events(self, now_ms: int) -> list[StoredEvent]:
        """The latest event per uid, if not stale at ``now_ms``."""
        columns = ", ".join(schema.EVENT_COLUMNS)
        sql = (
            f"SELECT {columns} FROM (SELECT {columns}, ROW_NUMBER() OVER "
            "(PARTITION BY uid ORDER BY time DESC, id DESC) AS newest FROM events) "
            "WHERE newest = 1 AND stale > ? ORDER BY time"
        )
        rows = await self._run(lambda db: db.execute(sql, (now_ms,)).fetchall())
        return [_event(row) for row in rows]

    async def purge_before(self, time_ms: int) -> int:
        """Delete events older than ``time_ms``."""

        def purge(db: sqlite3.Connection) -> int:
            return db.execute("DELETE FROM events WHERE time < ?", (time_ms,)).rowcount

        return await self._run(purge)

    async def put_package(self, record: PackageRecord) -> None:
        """Insert or replace by hash and submitter."""
        columns = ", ".join((*schema.PACKAGE_COLUMNS, "owner"))
        marks = ", ".join("?" * (len(schema.PACKAGE_COLUMNS) + 1))
        sql = f"INSERT OR REPLACE INTO packages ({columns}) VALUES ({marks})"
        row = (*_package_row(record), schema.package_owner(record.submitter))
        await self._run(lambda db: db.execute(sql, row))

    async def package(self, hash: str) -> PackageRecord | None:
        """The newest record with this hash, if any."""
        records = await self.packages_of(hash)
        return records[0] if records else None

    async def packages_of(self, hash: str) -> list[PackageRecord]:
        """Every record with this hash, newest first."""
        sql = f"{_PACKAGE_SELECT} WHERE hash = ? ORDER BY submitted DESC, owner"
        rows = await self._run(lambda db: db.execute(sql, (hash,)).fetchall())
        return [_package(row) for row in rows]

    async def search_packages(
        self,
        *,
        keywords: Sequence[str] = (),
        tool: str | None = None,
        name: str | None = None,
        groups: frozenset[str] | None = None,
    ) -> list[PackageRecord]:
        """Records matching every criterion given, newest first."""
        params = Params(numbered=False)
        terms = [
            f"EXISTS (SELECT 1 FROM json_each(packages.keywords) AS k WHERE k.value = {params(keyword)})"
            for keyword in keywords
        ]
        if tool is not None:
            terms.append(f"tool = {params(tool)}")
        if name is not None:
            terms.append(f"name = {params(name)}")
        if groups is not None:
            terms.append(_GROUPS_MATCH.format(column="packages.groups", param=params(_json_list(groups))))
        sql = f"{_PACKAGE_SELECT}{where(terms)} ORDER BY submitted DESC, hash"
        rows = await self._run(lambda db: db.execute(sql, params.values).fetchall())
        return [_package(row) for row in rows]

    async def set_package_tool(self, hash: str, tool: str, submitter: object = ANY_SUBMITTER) -> bool:
        """Set the tool of one record."""
        return await self._change("UPDATE packages SET tool = ?", (tool,), hash, submitter)

    async def set_package_keywords(
        self, hash: str, keywords: Sequence[str], submitter: object = ANY_SUBMITTER
    ) -> bool:
        """Replace the keywords of one record."""
        text = json.dumps(list(keywords))
        return await self._change("UPDATE packages SET keywords = ?", (text,), hash, submitter)

    async def set_package_expiration(
        self, hash: str, expiration: int, submitter: object = ANY_SUBMITTER
    ) -> bool:
        """Set when one record expires."""
        return await self._change("UPDATE packages SET expiration = ?", (expiration,), hash, submitter)

    async def delete_package(self, hash: str, submitter: object = ANY_SUBMITTER) -> bool:
        """Remove one record."""
        return await self._change("DELETE FROM packages", (), hash, submitter)

    async def _change(self, statement: str, values: tuple[Any, ...], hash: str, submitter: object) -> bool:
        """Run ``statement`` on the records of ``hash`` (by ``submitter`` unless any); True if any."""
        owner = owner_key(submitter)
        sql = f"{statement} WHERE hash = ?" + ("" if owner is None else " AND owner = ?")
        params = (*values, hash) if owner is None else (*values, hash, owner)

        def change(db: sqlite3.Connection) -> bool:
            return db.execute(sql, params).rowcount > 0

        return await self._run(change)

    async def append_journal(self, stream: str, time: int, author: str | None, body: str) -> int:
        """Commit one journal entry; return its id."""

        def append(db: sqlite3.Connection) -> int:
            with db:
                cursor = db.execute(
                    "INSERT INTO journal (stream, time, author, body) VALUES (?, ?, ?, ?)",
                    (stream, time, author, body),
                )
            return int(cursor.lastrowid or 0)

        return await self._run(append)

    async def read_journal(
        self, stream_prefix: str, *, after_id: int = 0, limit: int = 100_000
    ) -> list[JournalEntry]:
        """Entries of the streams starting with ``stream_prefix``, after ``after_id``, by id."""
        sql = (
            f"SELECT {', '.join(schema.JOURNAL_COLUMNS)} FROM journal "
            "WHERE stream >= ? AND stream < ? AND id > ? ORDER BY id LIMIT ?"
        )
        values = (stream_prefix, type_upper_bound(stream_prefix), after_id, limit)
        rows = await self._run(lambda db: db.execute(sql, values).fetchall())
        return [JournalEntry(*row) for row in rows]

    async def put_mail(self, recipient: str, time: int, xml: bytes) -> int:
        """Keep ``xml`` for ``recipient``; return its id."""

        def put(db: sqlite3.Connection) -> int:
            with db:
                cursor = db.execute(
                    "INSERT INTO mail (recipient, time, xml) VALUES (?, ?, ?)", (recipient, time, xml)
                )
            return int(cursor.lastrowid or 0)

        return await self._run(put)

    async def put_mail_many(self, items: Sequence[MailDraft]) -> None:
        """Keep every item in one transaction, in list order."""
        rows = [tuple(item) for item in items]

        def put(db: sqlite3.Connection) -> None:
            with db:
                db.executemany("INSERT INTO mail (recipient, time, xml) VALUES (?, ?, ?)", rows)

        await self._run(put)

    async def mail_for(self, recipient: str, *, after_id: int = 0, limit: int = 10_000) -> list[MailItem]:
        """Undelivered mail of ``recipient``, oldest first."""
        sql = (
            "SELECT id, recipient, time, xml FROM mail WHERE recipient = ? AND delivered IS NULL "
            "AND id > ? ORDER BY id LIMIT ?"
        )
        rows = await self._run(lambda db: db.execute(sql, (recipient, after_id, limit)).fetchall())
        return [MailItem(id_, who, time_, bytes(xml)) for id_, who, time_, xml in rows]

    async def mail_count(self, recipient: str) -> int:
        """Undelivered mail kept for ``recipient``."""
        sql = "SELECT count(*) FROM mail WHERE recipient = ? AND delivered IS NULL"
        row = await self._run(lambda db: db.execute(sql, (recipient,)).fetchone())
        return int(row[0])

    async def mark_delivered(self, ids: Sequence[int], time: int) -> None:
        """Mark mail items delivered at ``time``."""
        rows = [(time, id_) for id_ in ids]

        def mark(db: sqlite3.Connection) -> None:
            with db:
                db.executemany("UPDATE mail SET delivered = ? WHERE id = ?", rows)

        await self._run(mark)

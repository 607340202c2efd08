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
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from rallypoint.errors import StoreError
from rallypoint.store import schema, statements
from rallypoint.store.base import (
    ANY_SUBMITTER,
    EventQuery,
    InjectorRecord,
    JournalEntry,
    LostRecord,
    MailDraft,
    MailItem,
    PackageRecord,
    StoredEvent,
    type_upper_bound,
)
from rallypoint.store.writer import BatchWriter, WrittenInBatches

T = TypeVar("T")

BUSY_TIMEOUT_MS = 5000
"""How long a statement waits for a lock held by another process (a CLI reading the file)."""


@functools.lru_cache(maxsize=1024)
def _set_json(values: frozenset[str]) -> str:
    """Senders are few and keep their groups (recipient sets repeat too): encode each set once."""
    return json.dumps(sorted(values))


def _json_list(values: Iterable[str]) -> str:
    return _set_json(values) if isinstance(values, frozenset) else json.dumps(list(values))


def _from_json(text: str) -> list[str]:
    return list(json.loads(text))


DIALECT = statements.Dialect(
    numbered=False,
    list_value=_json_list,
    list_of=_from_json,
    overlaps=lambda column: (
        f"EXISTS (SELECT 1 FROM json_each({column}) AS g WHERE g.value IN (SELECT value FROM json_each(?)))"
    ),
    has=lambda column: f"EXISTS (SELECT 1 FROM json_each({column}) AS m WHERE m.value = ?)",
)
"""Lists are JSON text, searched with ``json_each``."""


class SqliteStore(WrittenInBatches):
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
            for number, steps in schema.pending(schema.SQLITE, current):
                for statement in steps:
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

    async def _insert(self, batch: list[StoredEvent]) -> None:
        def insert(db: sqlite3.Connection) -> None:
            rows = [statements.event_row(DIALECT, event) for event in batch]  # here, off the event loop
            with db:  # one transaction per batch
                db.execute("BEGIN")
                db.executemany(statements.INSERT_EVENT, rows)

        await self._run(insert)

    async def query_events(self, query: EventQuery) -> list[StoredEvent]:
        """Matching events in time order (see the protocol)."""
        sql, values = statements.events_sql(DIALECT, query)
        rows = await self._run(lambda db: db.execute(sql, values).fetchall())
        return [statements.event_from_row(DIALECT, row) for row in rows]

    async def latest_events(self, now_ms: int) -> list[StoredEvent]:
        """The latest event per uid, if not stale at ``now_ms``."""
        columns = ", ".join(schema.EVENT_COLUMNS)
        sql = (
            f"SELECT {columns} FROM (SELECT {columns}, ROW_NUMBER() OVER "
            "(PARTITION BY uid ORDER BY time DESC, id DESC) AS newest FROM events) "
            "WHERE newest = 1 AND stale > ? ORDER BY time"
        )
        rows = await self._run(lambda db: db.execute(sql, (now_ms,)).fetchall())
        return [statements.event_from_row(DIALECT, row) for row in rows]

    async def purge_before(self, time_ms: int) -> int:
        """Delete events older than ``time_ms``."""

        def purge(db: sqlite3.Connection) -> int:
            return db.execute(statements.PURGE_EVENTS, (time_ms,)).rowcount

        return await self._run(purge)

    async def put_package(self, record: PackageRecord) -> None:
        """Insert or replace by hash and submitter."""
        columns = ", ".join((*schema.PACKAGE_COLUMNS, "owner"))
        marks = ", ".join("?" * (len(schema.PACKAGE_COLUMNS) + 1))
        sql = f"INSERT OR REPLACE INTO packages ({columns}) VALUES ({marks})"
        row = statements.package_row(DIALECT, record)
        await self._run(lambda db: db.execute(sql, row))

    async def package(self, hash: str) -> PackageRecord | None:
        """The newest record with this hash, if any."""
        records = await self.packages_of(hash)
        return records[0] if records else None

    async def packages_of(self, hash: str) -> list[PackageRecord]:
        """Every record with this hash, newest first."""
        rows = await self._run(lambda db: db.execute(statements.PACKAGES_OF, (hash,)).fetchall())
        return [statements.package_from_row(DIALECT, row) for row in rows]

    async def search_packages(
        self,
        *,
        keywords: Sequence[str] = (),
        tool: str | None = None,
        name: str | None = None,
        groups: frozenset[str] | None = None,
    ) -> list[PackageRecord]:
        """Records matching every criterion given, newest first."""
        sql, values = statements.packages_sql(DIALECT, keywords=keywords, tool=tool, name=name, groups=groups)
        rows = await self._run(lambda db: db.execute(sql, values).fetchall())
        return [statements.package_from_row(DIALECT, row) for row in rows]

    async def set_package_tool(self, hash: str, tool: str, submitter: object = ANY_SUBMITTER) -> bool:
        """Set the tool of one record."""
        return await self._change(statements.SET_TOOL, (tool,), hash, submitter)

    async def set_package_keywords(
        self, hash: str, keywords: Sequence[str], submitter: object = ANY_SUBMITTER
    ) -> bool:
        """Replace the keywords of one record."""
        return await self._change(statements.SET_KEYWORDS, (_json_list(keywords),), hash, submitter)

    async def set_package_expiration(
        self, hash: str, expiration: int, submitter: object = ANY_SUBMITTER
    ) -> bool:
        """Set when one record expires."""
        return await self._change(statements.SET_EXPIRATION, (expiration,), hash, submitter)

    async def delete_package(self, hash: str, submitter: object = ANY_SUBMITTER) -> bool:
        """Remove one record."""
        return await self._change(statements.DELETE_PACKAGE, (), hash, submitter)

    async def _change(self, statement: str, values: tuple[Any, ...], hash: str, submitter: object) -> bool:
        """Run ``statement`` on the records of ``hash`` (by ``submitter`` unless any); True if any."""
        sql, params = statements.change_sql(DIALECT, statement, values, hash, submitter)

        def change(db: sqlite3.Connection) -> bool:
            return db.execute(sql, params).rowcount > 0

        return await self._run(change)

    async def append_journal(self, stream: str, time: int, author: str | None, body: str) -> int:
        """Commit one journal entry; return its id."""

        def append(db: sqlite3.Connection) -> int:
            with db:
                cursor = db.execute(statements.APPEND_JOURNAL, (stream, time, author, body))
            return int(cursor.lastrowid or 0)

        return await self._run(append)

    async def read_journal(
        self, stream_prefix: str, *, after_id: int = 0, limit: int = 100_000
    ) -> list[JournalEntry]:
        """Entries of the streams starting with ``stream_prefix``, after ``after_id``, by id."""
        values = (stream_prefix, type_upper_bound(stream_prefix), after_id, limit)
        rows = await self._run(lambda db: db.execute(statements.READ_JOURNAL, values).fetchall())
        return [JournalEntry(*row) for row in rows]

    async def put_mail(self, recipient: str, time: int, xml: bytes) -> int:
        """Keep ``xml`` for ``recipient``; return its id."""

        def put(db: sqlite3.Connection) -> int:
            with db:
                cursor = db.execute(statements.PUT_MAIL, (recipient, time, xml, None, None))
            return int(cursor.lastrowid or 0)

        return await self._run(put)

    async def put_mail_many(self, items: Sequence[MailDraft]) -> None:
        """Keep every item in one transaction, in list order."""
        rows = [tuple(item) for item in items]

        def put(db: sqlite3.Connection) -> None:
            with db:
                db.executemany(statements.PUT_MAIL, rows)

        await self._run(put)

    async def mail_for(self, recipient: str, *, after_id: int = 0, limit: int = 10_000) -> list[MailItem]:
        """Undelivered mail of ``recipient``, oldest first."""
        values = (recipient, after_id, limit)
        rows = await self._run(lambda db: db.execute(statements.MAIL_FOR, values).fetchall())
        return [statements.mail_item(row) for row in rows]

    async def mail_count(self, recipient: str) -> int:
        """Undelivered mail kept for ``recipient``."""
        row = await self._run(lambda db: db.execute(statements.MAIL_COUNT, (recipient,)).fetchone())
        return int(row[0])

    async def mail_bytes(self, recipient: str) -> int:
        """Size of the undelivered mail kept for ``recipient``."""
        row = await self._run(lambda db: db.execute(statements.MAIL_BYTES, (recipient,)).fetchone())
        return int(row[0])

    async def expire_mail(self, before: int, *, limit: int = 1000) -> list[MailItem]:
        """Remove and return undelivered mail kept before ``before`` (and delivered mail as old)."""
        select = f"SELECT {statements.MAIL_COLUMNS} FROM mail WHERE id IN ({statements.EXPIRED_MAIL_IDS})"

        def expire(db: sqlite3.Connection) -> list[MailItem]:
            with db:
                items = [statements.mail_item(row) for row in db.execute(select, (before, limit)).fetchall()]
                db.executemany("DELETE FROM mail WHERE id = ?", [(item.id,) for item in items])
                db.execute(statements.PURGE_DELIVERED_MAIL, (before,))
            return sorted(items, key=lambda item: (item.time, item.id))

        return await self._run(expire)

    async def mark_delivered(self, ids: Sequence[int], time: int) -> None:
        """Mark mail items delivered at ``time``."""
        rows = [(time, id_) for id_ in ids]

        def mark(db: sqlite3.Connection) -> None:
            with db:
                db.executemany("UPDATE mail SET delivered = ? WHERE id = ?", rows)

        await self._run(mark)

    async def put_lost(self, record: LostRecord) -> None:
        """Keep one lost unit (replacing its older row)."""
        row = statements.lost_row(DIALECT, record)
        await self._run(lambda db: db.execute(statements.PUT_LOST, row))

    async def drop_lost(self, uids: Sequence[str]) -> None:
        """Forget these lost units."""
        rows = [(uid,) for uid in uids]

        def drop(db: sqlite3.Connection) -> None:
            with db:
                db.executemany(statements.DROP_LOST, rows)

        await self._run(drop)

    async def lost_units(self) -> list[LostRecord]:
        """Every kept lost unit, the one lost longest ago first."""
        rows = await self._run(lambda db: db.execute(statements.LOST_UNITS).fetchall())
        return [statements.lost_from_row(DIALECT, row) for row in rows]

    async def put_injector(self, record: InjectorRecord) -> None:
        """Keep one injector (the same uid and element twice is one)."""
        row = statements.injector_row(DIALECT, record)

        def put(db: sqlite3.Connection) -> None:
            with db:
                db.execute(statements.PUT_INJECTOR, row)

        await self._run(put)

    async def drop_injectors(self, uid: str, element: str | None = None) -> None:
        """Forget ``uid``'s injectors (only ``element``'s if given)."""
        sql, values = statements.drop_injectors_sql(uid, element)

        def drop(db: sqlite3.Connection) -> None:
            with db:
                db.execute(sql, values)

        await self._run(drop)

    async def injectors(self) -> list[InjectorRecord]:
        """Every kept injector, the oldest first."""
        rows = await self._run(lambda db: db.execute(statements.INJECTORS).fetchall())
        return [statements.injector_from_row(DIALECT, row) for row in rows]

    async def group_created(self, names: Sequence[str], now_ms: int) -> dict[str, int]:
        """When each of ``names`` was first served (now for those never served before)."""
        rows = [(name, now_ms) for name in names]

        def created(db: sqlite3.Connection) -> dict[str, int]:
            with db:
                db.executemany(statements.PUT_GROUP_NAME, rows)
            return {name: int(when) for name, when in db.execute(statements.GROUP_NAMES) if name in names}

        return await self._run(created)

    async def federation_mark(self, remote: str) -> int:
        """The last stream sequence of ``remote`` routed and stored (0: none yet)."""
        rows = await self._run(lambda db: db.execute(statements.FEDERATION_MARK, (remote,)).fetchall())
        return int(rows[0][0]) if rows else 0

    async def set_federation_mark(self, remote: str, sequence: int) -> None:
        """Keep ``sequence`` as ``remote``'s mark."""

        def put(db: sqlite3.Connection) -> None:
            with db:
                db.execute(statements.SET_FEDERATION_MARK, (remote, sequence))

        await self._run(put)

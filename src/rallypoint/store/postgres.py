# ruff: noqa: S608 -- SQL is assembled from constant column names and placeholders; values are bound
"""The store at scale: PostgreSQL through asyncpg, a small pool, batches written with COPY.

Same schema and migrations as SQLite (``schema.py``); lists are ``TEXT[]`` searched with
``&&`` (overlap) and ``@>`` (contains). Migrations take an advisory lock so two servers
starting on one database do not both apply them.
"""

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import asyncpg  # type: ignore[import-untyped]  # no stubs shipped

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
    redacted_url,
    type_upper_bound,
)
from rallypoint.store.query import Params, event_conditions, where
from rallypoint.store.writer import BatchWriter

T = TypeVar("T")

POOL_MIN = 1
POOL_MAX = 4
"""One connection for the writer, a few for concurrent HTTP queries; PostgreSQL connections are costly."""

CONNECT_TIMEOUT_S = 10.0
MIGRATION_LOCK = 0x52414C4C59
"""Advisory lock key held while migrating ("RALLY")."""

_EVENT_SELECT = f"SELECT {', '.join(schema.EVENT_COLUMNS)} FROM events"
_PACKAGE_SELECT = f"SELECT {', '.join(schema.PACKAGE_COLUMNS)} FROM packages"
_DATABASE_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError)


def _event_row(event: StoredEvent) -> tuple[Any, ...]:
    return (*event[:7], sorted(event.groups), event.sender, event.xml, sorted(event.recipients))


def _event(row: asyncpg.Record) -> StoredEvent:
    uid, type_, time_, stale, lat, lon, hae, groups, sender, xml, recipients = row
    return StoredEvent(
        uid, type_, time_, stale, lat, lon, hae, frozenset(groups), sender, bytes(xml), frozenset(recipients)
    )


def _package(row: asyncpg.Record) -> PackageRecord:
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
        frozenset(groups),
        tuple(keywords),
        tool,
        submitted,
        uid,
        expiration,
    )


class PostgresStore:
    """:class:`rallypoint.store.base.Store` on a PostgreSQL database."""

    def __init__(self, url: str, *, queue_max: int = 100_000) -> None:
        self.url = url
        self._pool: asyncpg.Pool | None = None
        self.writer = BatchWriter(self._insert, queue_max)

    async def _use(self, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        """Run ``work`` on a pooled connection; database errors become :class:`StoreError`."""
        if self._pool is None:
            raise StoreError(f"store {redacted_url(self.url)} is not open")
        try:
            async with self._pool.acquire() as connection:
                return await work(connection)
        except _DATABASE_ERRORS as exc:
            raise StoreError(f"{redacted_url(self.url)}: {exc}") from exc

    async def open(self) -> None:
        """Connect, migrate, start the writer."""
        try:
            self._pool = await asyncpg.create_pool(
                self.url, min_size=POOL_MIN, max_size=POOL_MAX, timeout=CONNECT_TIMEOUT_S
            )
        except (*_DATABASE_ERRORS, ValueError, TimeoutError) as exc:
            raise StoreError(f"cannot connect to {redacted_url(self.url)}: {exc}") from exc
        await self._use(self._migrate)
        self.writer.start()

    @staticmethod
    async def _migrate(connection: asyncpg.Connection) -> None:
        async with connection.transaction():
            await connection.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
            await connection.execute(schema.CREATE_VERSION_TABLE)
            current = await connection.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_version")
            for number, statements in schema.pending(schema.POSTGRES, current):
                for statement in statements:
                    await connection.execute(statement)
                await connection.execute(
                    "INSERT INTO schema_version VALUES ($1, (EXTRACT(EPOCH FROM now()) * 1000)::BIGINT)",
                    number,
                )

    async def close(self) -> None:
        """Commit what is queued, close the pool."""
        await self.writer.stop()
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

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
        rows = [_event_row(event) for event in batch]

        async def copy(connection: asyncpg.Connection) -> None:
            await connection.copy_records_to_table("events", records=rows, columns=schema.EVENT_COLUMNS)

        await self._use(copy)

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
        params = Params(numbered=True)
        terms = event_conditions(params, start=start, end=end, uid=uid, type_prefix=type_prefix, bbox=bbox)
        if groups is not None:
            visible = f"groups && {params(sorted(groups))}::TEXT[]"
            if reader is not None:
                name = params(reader)
                visible = f"({visible} OR sender = {name} OR {name} = ANY(recipients))"
            terms.append(visible)
        sql = f"{_EVENT_SELECT}{where(terms)} ORDER BY time, id LIMIT {params(limit)}"
        rows = await self._use(lambda connection: connection.fetch(sql, *params.values))
        return [_event(row) for row in rows]

    async def latest_events(self, now_ms: int) -> list[StoredEvent]:
        """The latest event per uid, if not stale at ``now_ms``."""
        sql = (
            f"SELECT * FROM (SELECT DISTINCT ON (uid) {', '.join(schema.EVENT_COLUMNS)} FROM events "
            "ORDER BY uid, time DESC, id DESC) AS newest WHERE stale > $1 ORDER BY time"
        )
        rows = await self._use(lambda connection: connection.fetch(sql, now_ms))
        return [_event(row) for row in rows]

    async def purge_before(self, time_ms: int) -> int:
        """Delete events older than ``time_ms``."""
        status = await self._use(
            lambda connection: connection.execute("DELETE FROM events WHERE time < $1", time_ms)
        )
        return int(status.split()[-1])

    async def put_package(self, record: PackageRecord) -> None:
        """Insert or replace by hash and submitter."""
        columns = (*schema.PACKAGE_COLUMNS, "owner")
        marks = ", ".join(f"${n}" for n in range(1, len(columns) + 1))
        updates = ", ".join(f"{column} = excluded.{column}" for column in schema.PACKAGE_COLUMNS[1:])
        sql = (
            f"INSERT INTO packages ({', '.join(columns)}) VALUES ({marks}) "
            f"ON CONFLICT (hash, owner) DO UPDATE SET {updates}"
        )
        row = (
            *record[:7],
            sorted(record.groups),
            list(record.keywords),
            *record[9:],
            schema.package_owner(record.submitter),
        )
        await self._use(lambda connection: connection.execute(sql, *row))

    async def package(self, hash: str) -> PackageRecord | None:
        """The newest record with this hash, if any."""
        records = await self.packages_of(hash)
        return records[0] if records else None

    async def packages_of(self, hash: str) -> list[PackageRecord]:
        """Every record with this hash, newest first."""
        sql = f"{_PACKAGE_SELECT} WHERE hash = $1 ORDER BY submitted DESC, owner"
        rows = await self._use(lambda connection: connection.fetch(sql, hash))
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
        params = Params(numbered=True)
        terms = [f"keywords @> {params(list(keywords))}::TEXT[]"] if keywords else []
        if tool is not None:
            terms.append(f"tool = {params(tool)}")
        if name is not None:
            terms.append(f"name = {params(name)}")
        if groups is not None:
            terms.append(f"groups && {params(sorted(groups))}::TEXT[]")
        sql = f"{_PACKAGE_SELECT}{where(terms)} ORDER BY submitted DESC, hash"
        rows = await self._use(lambda connection: connection.fetch(sql, *params.values))
        return [_package(row) for row in rows]

    async def set_package_tool(self, hash: str, tool: str, submitter: object = ANY_SUBMITTER) -> bool:
        """Set the tool of one record."""
        return await self._change("UPDATE packages SET tool = $1", [tool], hash, submitter)

    async def set_package_keywords(
        self, hash: str, keywords: Sequence[str], submitter: object = ANY_SUBMITTER
    ) -> bool:
        """Replace the keywords of one record."""
        return await self._change("UPDATE packages SET keywords = $1", [list(keywords)], hash, submitter)

    async def set_package_expiration(
        self, hash: str, expiration: int, submitter: object = ANY_SUBMITTER
    ) -> bool:
        """Set when one record expires."""
        return await self._change("UPDATE packages SET expiration = $1", [expiration], hash, submitter)

    async def delete_package(self, hash: str, submitter: object = ANY_SUBMITTER) -> bool:
        """Remove one record."""
        return await self._change("DELETE FROM packages", [], hash, submitter)

    async def _change(self, statement: str, values: list[Any], hash: str, submitter: object) -> bool:
        """Run ``statement`` on the records of ``hash`` (by ``submitter`` unless any); True if any."""
        owner = owner_key(submitter)
        params = [*values, hash] if owner is None else [*values, hash, owner]
        sql = f"{statement} WHERE hash = ${len(values) + 1}"
        if owner is not None:
            sql += f" AND owner = ${len(values) + 2}"
        status = await self._use(lambda connection: connection.execute(sql, *params))
        return not str(status).endswith(" 0")

    async def append_journal(self, stream: str, time: int, author: str | None, body: str) -> int:
        """Commit one journal entry; return its id."""
        sql = "INSERT INTO journal (stream, time, author, body) VALUES ($1, $2, $3, $4) RETURNING id"
        return int(await self._use(lambda connection: connection.fetchval(sql, stream, time, author, body)))

    async def read_journal(
        self, stream_prefix: str, *, after_id: int = 0, limit: int = 100_000
    ) -> list[JournalEntry]:
        """Entries of the streams starting with ``stream_prefix``, after ``after_id``, by id."""
        sql = (
            f"SELECT {', '.join(schema.JOURNAL_COLUMNS)} FROM journal "
            "WHERE stream >= $1 AND stream < $2 AND id > $3 ORDER BY id LIMIT $4"
        )
        values = (stream_prefix, type_upper_bound(stream_prefix), after_id, limit)
        rows = await self._use(lambda connection: connection.fetch(sql, *values))
        return [JournalEntry(*row) for row in rows]

    async def put_mail(self, recipient: str, time: int, xml: bytes) -> int:
        """Keep ``xml`` for ``recipient``; return its id."""
        sql = "INSERT INTO mail (recipient, time, xml) VALUES ($1, $2, $3) RETURNING id"
        return int(await self._use(lambda connection: connection.fetchval(sql, recipient, time, xml)))

    async def put_mail_many(self, items: Sequence[MailDraft]) -> None:
        """Keep every item in one transaction, in list order."""
        sql = "INSERT INTO mail (recipient, time, xml) VALUES ($1, $2, $3)"
        rows = [tuple(item) for item in items]

        async def put(connection: asyncpg.Connection) -> None:
            async with connection.transaction():
                await connection.executemany(sql, rows)

        await self._use(put)

    async def mail_for(self, recipient: str, *, after_id: int = 0, limit: int = 10_000) -> list[MailItem]:
        """Undelivered mail of ``recipient``, oldest first."""
        sql = (
            "SELECT id, recipient, time, xml FROM mail WHERE recipient = $1 AND delivered IS NULL "
            "AND id > $2 ORDER BY id LIMIT $3"
        )
        rows = await self._use(lambda connection: connection.fetch(sql, recipient, after_id, limit))
        return [MailItem(row[0], row[1], row[2], bytes(row[3])) for row in rows]

    async def mail_count(self, recipient: str) -> int:
        """Undelivered mail kept for ``recipient``."""
        sql = "SELECT count(*) FROM mail WHERE recipient = $1 AND delivered IS NULL"
        count = await self._use(lambda connection: connection.fetchval(sql, recipient))
        return int(count)

    async def mark_delivered(self, ids: Sequence[int], time: int) -> None:
        """Mark mail items delivered at ``time``."""
        sql = "UPDATE mail SET delivered = $1 WHERE id = ANY($2::BIGINT[])"
        await self._use(lambda connection: connection.execute(sql, time, list(ids)))

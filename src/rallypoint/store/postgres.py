# ruff: noqa: S608 -- SQL is assembled from constant column names and placeholders; values are bound
"""The store at scale: PostgreSQL through asyncpg, a small pool, batches written with COPY.

Same schema and migrations as SQLite (``schema.py``); lists are ``TEXT[]`` searched with
``&&`` (overlap) and ``@>`` (contains). Migrations take an advisory lock so two servers
starting on one database do not both apply them.
"""

from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, TypeVar

import asyncpg  # type: ignore[import-untyped]  # no stubs shipped

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
    redacted_url,
    type_upper_bound,
)
from rallypoint.store.writer import BatchWriter, WrittenInBatches

T = TypeVar("T")

POOL_MIN = 1
POOL_MAX = 4
"""One connection for the writer, a few for concurrent HTTP queries; PostgreSQL connections are costly."""

CONNECT_TIMEOUT_S = 10.0
MIGRATION_LOCK = 0x52414C4C59
"""Advisory lock key held while migrating ("RALLY")."""
JOURNAL_LOCK = 0x4A524E4C
"""Advisory lock key held by each journal append until it commits ("JRNL"): ids are then
visible in id order, so a node reading the entries after the last id it applied misses none
(several nodes append to one journal in cluster mode)."""

_DATABASE_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError)


def _text_array(values: Iterable[str]) -> list[str]:
    return sorted(values) if isinstance(values, frozenset) else list(values)


DIALECT = statements.Dialect(
    numbered=True,
    list_value=_text_array,
    list_of=list,
    overlaps=lambda column: f"{column} && ?::TEXT[]",
    has=lambda column: f"? = ANY({column})",
)
"""Lists are ``TEXT[]``: ``&&`` is overlap, ``ANY`` membership."""


def _sql(text: str) -> str:
    return DIALECT.sql(text)


_PURGE_EVENTS = _sql(statements.PURGE_EVENTS)
_PACKAGES_OF = _sql(statements.PACKAGES_OF)
_INSERT_EVENT = _sql(statements.INSERT_EVENT)
_FEDERATION_MARK = _sql(statements.FEDERATION_MARK)
_SET_FEDERATION_MARK = _sql(statements.SET_FEDERATION_MARK)
_APPEND_JOURNAL = _sql(statements.APPEND_JOURNAL) + " RETURNING id"
_READ_JOURNAL = _sql(statements.READ_JOURNAL)
_PUT_MAIL = _sql(statements.PUT_MAIL)
_MAIL_FOR = _sql(statements.MAIL_FOR)
_MAIL_COUNT = _sql(statements.MAIL_COUNT)
_MAIL_BYTES = _sql(statements.MAIL_BYTES)
_EXPIRE_MAIL = _sql(
    f"DELETE FROM mail WHERE id IN ({statements.EXPIRED_MAIL_IDS}) RETURNING {statements.MAIL_COLUMNS}"
)
_PURGE_DELIVERED_MAIL = _sql(statements.PURGE_DELIVERED_MAIL)
_PUT_LOST = _sql(statements.PUT_LOST)
_DROP_LOST = _sql(statements.DROP_LOST)
_PUT_INJECTOR = _sql(statements.PUT_INJECTOR)
_PUT_GROUP_NAME = _sql(statements.PUT_GROUP_NAME)


class PostgresStore(WrittenInBatches):
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
            for number, steps in schema.pending(schema.POSTGRES, current):
                for statement in steps:
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

    async def _insert(self, batch: list[StoredEvent]) -> None:
        rows = [statements.event_row(DIALECT, event) for event in batch if event.crossing is None]
        crossed = [statements.event_row(DIALECT, event) for event in batch if event.crossing is not None]

        async def copy(connection: asyncpg.Connection) -> None:
            async with connection.transaction():
                if rows:  # COPY cannot skip a conflict: events from another site are inserted
                    columns = schema.EVENT_COLUMNS
                    await connection.copy_records_to_table("events", records=rows, columns=columns)
                if crossed:
                    await connection.executemany(_INSERT_EVENT, crossed)

        await self._use(copy)

    async def query_events(self, query: EventQuery) -> list[StoredEvent]:
        """Matching events in time order (see the protocol)."""
        sql, values = statements.events_sql(DIALECT, query)
        rows = await self._use(lambda connection: connection.fetch(sql, *values))
        return [statements.event_from_row(DIALECT, row) for row in rows]

    async def latest_events(self, now_ms: int) -> list[StoredEvent]:
        """The latest event per uid, if not stale at ``now_ms``."""
        sql = (
            f"SELECT * FROM (SELECT DISTINCT ON (uid) {', '.join(schema.EVENT_COLUMNS)} FROM events "
            "ORDER BY uid, time DESC, id DESC) AS newest WHERE stale > $1 ORDER BY time"
        )
        rows = await self._use(lambda connection: connection.fetch(sql, now_ms))
        return [statements.event_from_row(DIALECT, row) for row in rows]

    async def purge_before(self, time_ms: int) -> int:
        """Delete events older than ``time_ms``."""
        status = await self._use(lambda connection: connection.execute(_PURGE_EVENTS, time_ms))
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
        row = statements.package_row(DIALECT, record)
        await self._use(lambda connection: connection.execute(sql, *row))

    async def package(self, hash: str) -> PackageRecord | None:
        """The newest record with this hash, if any."""
        records = await self.packages_of(hash)
        return records[0] if records else None

    async def packages_of(self, hash: str) -> list[PackageRecord]:
        """Every record with this hash, newest first."""
        rows = await self._use(lambda connection: connection.fetch(_PACKAGES_OF, hash))
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
        rows = await self._use(lambda connection: connection.fetch(sql, *values))
        return [statements.package_from_row(DIALECT, row) for row in rows]

    async def set_package_tool(self, hash: str, tool: str, submitter: object = ANY_SUBMITTER) -> bool:
        """Set the tool of one record."""
        return await self._change(statements.SET_TOOL, [tool], hash, submitter)

    async def set_package_keywords(
        self, hash: str, keywords: Sequence[str], submitter: object = ANY_SUBMITTER
    ) -> bool:
        """Replace the keywords of one record."""
        return await self._change(statements.SET_KEYWORDS, [list(keywords)], hash, submitter)

    async def set_package_expiration(
        self, hash: str, expiration: int, submitter: object = ANY_SUBMITTER
    ) -> bool:
        """Set when one record expires."""
        return await self._change(statements.SET_EXPIRATION, [expiration], hash, submitter)

    async def delete_package(self, hash: str, submitter: object = ANY_SUBMITTER) -> bool:
        """Remove one record."""
        return await self._change(statements.DELETE_PACKAGE, [], hash, submitter)

    async def _change(self, statement: str, values: list[Any], hash: str, submitter: object) -> bool:
        """Run ``statement`` on the records of ``hash`` (by ``submitter`` unless any); True if any."""
        sql, params = statements.change_sql(DIALECT, statement, values, hash, submitter)
        status = await self._use(lambda connection: connection.execute(sql, *params))
        return not str(status).endswith(" 0")

    async def append_journal(self, stream: str, time: int, author: str | None, body: str) -> int:
        """Commit one journal entry; return its id."""
        values = (stream, time, author, body)

        async def append(connection: asyncpg.Connection) -> int:
            async with connection.transaction():
                await connection.execute("SELECT pg_advisory_xact_lock($1)", JOURNAL_LOCK)
                return int(await connection.fetchval(_APPEND_JOURNAL, *values))

        return await self._use(append)

    async def read_journal(
        self, stream_prefix: str, *, after_id: int = 0, limit: int = 100_000
    ) -> list[JournalEntry]:
        """Entries of the streams starting with ``stream_prefix``, after ``after_id``, by id."""
        values = (stream_prefix, type_upper_bound(stream_prefix), after_id, limit)
        rows = await self._use(lambda connection: connection.fetch(_READ_JOURNAL, *values))
        return [JournalEntry(*row) for row in rows]

    async def put_mail(self, recipient: str, time: int, xml: bytes) -> int:
        """Keep ``xml`` for ``recipient``; return its id."""
        sql = _PUT_MAIL + " RETURNING id"
        found = await self._use(lambda connection: connection.fetchval(sql, recipient, time, xml, None, None))
        return int(found)

    async def put_mail_many(self, items: Sequence[MailDraft]) -> None:
        """Keep every item in one transaction, in list order."""
        rows = [tuple(item) for item in items]

        async def put(connection: asyncpg.Connection) -> None:
            async with connection.transaction():
                await connection.executemany(_PUT_MAIL, rows)

        await self._use(put)

    async def mail_for(self, recipient: str, *, after_id: int = 0, limit: int = 10_000) -> list[MailItem]:
        """Undelivered mail of ``recipient``, oldest first."""
        rows = await self._use(lambda connection: connection.fetch(_MAIL_FOR, recipient, after_id, limit))
        return [statements.mail_item(row) for row in rows]

    async def mail_count(self, recipient: str) -> int:
        """Undelivered mail kept for ``recipient``."""
        count = await self._use(lambda connection: connection.fetchval(_MAIL_COUNT, recipient))
        return int(count)

    async def mail_bytes(self, recipient: str) -> int:
        """Size of the undelivered mail kept for ``recipient``."""
        return int(await self._use(lambda connection: connection.fetchval(_MAIL_BYTES, recipient)))

    async def expire_mail(self, before: int, *, limit: int = 1000) -> list[MailItem]:
        """Remove and return undelivered mail kept before ``before`` (and delivered mail as old)."""

        async def expire(connection: asyncpg.Connection) -> list[MailItem]:
            async with connection.transaction():
                rows = await connection.fetch(_EXPIRE_MAIL, before, limit)
                await connection.execute(_PURGE_DELIVERED_MAIL, before)
            return sorted((statements.mail_item(row) for row in rows), key=lambda item: (item.time, item.id))

        return await self._use(expire)

    async def mark_delivered(self, ids: Sequence[int], time: int) -> None:
        """Mark mail items delivered at ``time``."""
        sql = "UPDATE mail SET delivered = $1 WHERE id = ANY($2::BIGINT[])"
        await self._use(lambda connection: connection.execute(sql, time, list(ids)))

    async def put_lost(self, record: LostRecord) -> None:
        """Keep one lost unit (replacing its older row)."""
        row = statements.lost_row(DIALECT, record)
        await self._use(lambda connection: connection.execute(_PUT_LOST, *row))

    async def drop_lost(self, uids: Sequence[str]) -> None:
        """Forget these lost units."""
        rows = [(uid,) for uid in uids]
        await self._use(lambda connection: connection.executemany(_DROP_LOST, rows))

    async def lost_units(self) -> list[LostRecord]:
        """Every kept lost unit, the one lost longest ago first."""
        rows = await self._use(lambda connection: connection.fetch(statements.LOST_UNITS))
        return [statements.lost_from_row(DIALECT, row) for row in rows]

    async def put_injector(self, record: InjectorRecord) -> None:
        """Keep one injector (the same uid and element twice is one)."""
        row = statements.injector_row(DIALECT, record)
        await self._use(lambda connection: connection.execute(_PUT_INJECTOR, *row))

    async def drop_injectors(self, uid: str, element: str | None = None) -> None:
        """Forget ``uid``'s injectors (only ``element``'s if given)."""
        sql, values = statements.drop_injectors_sql(uid, element)
        await self._use(lambda connection: connection.execute(_sql(sql), *values))

    async def injectors(self) -> list[InjectorRecord]:
        """Every kept injector, the oldest first."""
        rows = await self._use(lambda connection: connection.fetch(statements.INJECTORS))
        return [statements.injector_from_row(DIALECT, row) for row in rows]

    async def group_created(self, names: Sequence[str], now_ms: int) -> dict[str, int]:
        """When each of ``names`` was first served (now for those never served before)."""
        rows = [(name, now_ms) for name in names]

        async def created(connection: asyncpg.Connection) -> dict[str, int]:
            async with connection.transaction():
                await connection.executemany(_PUT_GROUP_NAME, rows)
            found = await connection.fetch(statements.GROUP_NAMES)
            return {row[0]: int(row[1]) for row in found if row[0] in names}

        return await self._use(created)

    async def federation_mark(self, remote: str) -> int:
        """The last stream sequence of ``remote`` routed and stored (0: none yet)."""
        found = await self._use(lambda connection: connection.fetchval(_FEDERATION_MARK, remote))
        return int(found) if found is not None else 0

    async def set_federation_mark(self, remote: str, sequence: int) -> None:
        """Keep ``sequence`` as ``remote``'s mark."""
        await self._use(lambda connection: connection.execute(_SET_FEDERATION_MARK, remote, sequence))

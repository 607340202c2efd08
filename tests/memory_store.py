"""One in-memory store for the tests: every slice of :class:`rallypoint.store.base.Store`
(events, packages, journal, mail), filtering like the real ones, with what a test inspects
(the records, the journal, the queries asked) kept in plain attributes."""

import asyncio
import itertools
from collections.abc import Sequence

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
    owner_key,
)


class MemoryStore:
    """A :class:`~rallypoint.store.base.Store` in memory (records are committed at once)."""

    def __init__(self, events: Sequence[StoredEvent] = (), *, lag: int = 0) -> None:
        self.events: list[StoredEvent] = list(events)
        self.queries: list[EventQuery] = []
        """Every query asked of :meth:`query_events`, in order."""
        self.by_key: dict[tuple[str, str], PackageRecord] = {}
        """Package records by (hash, submitter), as the real stores key them."""
        self.entries: list[JournalEntry] = []
        self.mail: list[MailItem] = []
        self.mail_ids = itertools.count(1)
        """Mail ids, increasing even when expired rows leave :attr:`mail`."""
        self.delivered: set[int] = set()
        self.lost: dict[str, LostRecord] = {}
        self.injector_rows: dict[tuple[str, str], InjectorRecord] = {}
        self.group_names: dict[str, int] = {}
        self.federation_marks: dict[str, int] = {}
        self.reported_lag = lag
        self.events_lost = 0
        """What :meth:`write_health` reports as lost to failed transactions."""

    # lifecycle

    async def open(self) -> None:
        """Nothing to connect to."""

    async def close(self) -> None:
        """Nothing to flush."""

    # events

    def record(self, event: StoredEvent) -> bool:
        self.events.append(event)
        return True

    async def flush(self) -> None:
        """Recorded events are already there."""

    def write_health(self) -> tuple[int, str | None]:
        return self.events_lost, None

    def lag(self) -> int:
        return self.reported_lag

    async def query_events(self, query: EventQuery) -> list[StoredEvent]:
        self.queries.append(query)
        groups, reader, prefix = query.groups, query.reader, query.type_prefix

        def readable(event: StoredEvent) -> bool:
            if groups is None:
                return True
            mine = reader is not None and (event.sender == reader or reader in event.recipients)
            return mine or not event.groups.isdisjoint(groups)

        return [
            event
            for event in sorted(self.events, key=lambda e: e.time)
            if (query.start is None or event.time >= query.start)
            and (query.end is None or event.time <= query.end)
            and (query.uid is None or event.uid == query.uid)
            and (prefix is None or event.type.startswith(prefix))
            and readable(event)
        ][: query.limit]

    async def latest_events(self, now_ms: int) -> list[StoredEvent]:
        latest: dict[str, StoredEvent] = {}
        for event in sorted(self.events, key=lambda e: e.time):
            latest[event.uid] = event
        return [event for event in latest.values() if event.stale > now_ms]

    async def purge_before(self, time_ms: int) -> int:
        kept = [event for event in self.events if event.time >= time_ms]
        removed, self.events = len(self.events) - len(kept), kept
        return removed

    # packages

    @property
    def records(self) -> dict[str, PackageRecord]:
        """The newest record of each hash (what the single-uploader tests look at)."""
        newest: dict[str, PackageRecord] = {}
        for record in sorted(self.by_key.values(), key=lambda r: r.submitted):
            newest[record.hash] = record
        return newest

    async def put_package(self, record: PackageRecord) -> None:
        self.by_key[(record.hash, record.submitter or "")] = record

    async def package(self, hash: str) -> PackageRecord | None:
        found = await self.packages_of(hash)
        return found[0] if found else None

    async def packages_of(self, hash: str) -> list[PackageRecord]:
        found = [record for (digest, _), record in self.by_key.items() if digest == hash]
        return sorted(found, key=lambda r: -r.submitted)

    async def search_packages(
        self,
        *,
        keywords: Sequence[str] = (),
        tool: str | None = None,
        name: str | None = None,
        groups: frozenset[str] | None = None,
    ) -> list[PackageRecord]:
        return [
            record
            for record in sorted(self.by_key.values(), key=lambda r: -r.submitted)
            if set(keywords) <= set(record.keywords)
            and tool in (None, record.tool)
            and name in (None, record.name)
            and (groups is None or not groups.isdisjoint(record.groups))
        ]

    def _keys(self, hash: str, submitter: object) -> list[tuple[str, str]]:
        owner = owner_key(submitter)
        return [key for key in self.by_key if key[0] == hash and owner in (None, key[1])]

    async def set_package_tool(self, hash: str, tool: str, submitter: object = ANY_SUBMITTER) -> bool:
        keys = self._keys(hash, submitter)
        for key in keys:
            self.by_key[key] = self.by_key[key]._replace(tool=tool)
        return bool(keys)

    async def set_package_keywords(
        self, hash: str, keywords: Sequence[str], submitter: object = ANY_SUBMITTER
    ) -> bool:
        keys = self._keys(hash, submitter)
        for key in keys:
            self.by_key[key] = self.by_key[key]._replace(keywords=tuple(keywords))
        return bool(keys)

    async def set_package_expiration(
        self, hash: str, expiration: int, submitter: object = ANY_SUBMITTER
    ) -> bool:
        keys = self._keys(hash, submitter)
        for key in keys:
            self.by_key[key] = self.by_key[key]._replace(expiration=expiration)
        return bool(keys)

    async def delete_package(self, hash: str, submitter: object = ANY_SUBMITTER) -> bool:
        keys = self._keys(hash, submitter)
        for key in keys:
            del self.by_key[key]
        return bool(keys)

    # journal

    async def append_journal(self, stream: str, time: int, author: str | None, body: str) -> int:
        await asyncio.sleep(0)  # a real store yields here: lets concurrent requests interleave
        entry = JournalEntry(len(self.entries) + 1, stream, time, author, body)
        self.entries.append(entry)
        return entry.id

    async def read_journal(
        self, stream_prefix: str, *, after_id: int = 0, limit: int = 100_000
    ) -> list[JournalEntry]:
        found = [e for e in self.entries if e.stream.startswith(stream_prefix) and e.id > after_id]
        return found[:limit]

    # mail

    async def put_mail(self, recipient: str, time: int, xml: bytes) -> int:
        return self._keep(MailDraft(recipient, time, xml))

    async def put_mail_many(self, items: Sequence[MailDraft]) -> None:
        for item in items:
            self._keep(item)

    def _keep(self, draft: MailDraft) -> int:
        item = MailItem(next(self.mail_ids), draft.recipient, draft.time, draft.xml, draft.sender)
        self.mail.append(item)
        return item.id

    async def mail_for(self, recipient: str, *, after_id: int = 0, limit: int = 10_000) -> list[MailItem]:
        kept = [m for m in self.mail if m.recipient == recipient and m.id not in self.delivered]
        return [m for m in kept if m.id > after_id][:limit]

    async def mail_count(self, recipient: str) -> int:
        return len(await self.mail_for(recipient, limit=len(self.mail)))

    async def mail_bytes(self, recipient: str) -> int:
        return sum(len(m.xml) for m in await self.mail_for(recipient, limit=len(self.mail)))

    async def expire_mail(self, before: int, *, limit: int = 1000) -> list[MailItem]:
        old = [m for m in self.mail if m.time < before]
        expired = sorted((m for m in old if m.id not in self.delivered), key=lambda m: (m.time, m.id))[:limit]
        gone = {m.id for m in expired} | {m.id for m in old if m.id in self.delivered}
        self.mail = [m for m in self.mail if m.id not in gone]
        return expired

    async def mark_delivered(self, ids: Sequence[int], time: int) -> None:
        self.delivered.update(ids)

    # lost units

    async def put_lost(self, record: LostRecord) -> None:
        self.lost[record.uid] = record

    async def drop_lost(self, uids: Sequence[str]) -> None:
        for uid in uids:
            self.lost.pop(uid, None)

    async def lost_units(self) -> list[LostRecord]:
        return sorted(self.lost.values(), key=lambda record: (record.since, record.uid))

    # settings

    async def put_injector(self, record: InjectorRecord) -> None:
        self.injector_rows.setdefault((record.uid, record.element), record)

    async def drop_injectors(self, uid: str, element: str | None = None) -> None:
        for key in [k for k in self.injector_rows if k[0] == uid and element in (None, k[1])]:
            del self.injector_rows[key]

    async def injectors(self) -> list[InjectorRecord]:
        return sorted(self.injector_rows.values(), key=lambda r: (r.created, r.uid, r.element))

    async def group_created(self, names: Sequence[str], now_ms: int) -> dict[str, int]:
        return {name: self.group_names.setdefault(name, now_ms) for name in names}

    async def federation_mark(self, remote: str) -> int:
        return self.federation_marks.get(remote, 0)

    async def set_federation_mark(self, remote: str, sequence: int) -> None:
        self.federation_marks[remote] = sequence

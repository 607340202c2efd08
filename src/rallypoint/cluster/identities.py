"""The identity store shared by the nodes of a cluster: users, certificates, revocations.

Each node keeps its own SQLite identity store: the TLS handshake, the web login and the admin
commands read and write it synchronously, and a node goes on admitting its devices while
PostgreSQL or NATS is away. What is shared is the record of each changed user
(:mod:`rallypoint.pki.replica`), appended to the shared journal (PostgreSQL, stream
``identity:<name>``): the journal is the one order of identity changes, as it is of mission
changes, and a node started later reads it all. A ``journal`` notice on the bus wakes the
other nodes; each merges the entries it has not read, in id order, into its store and
refreshes its identity watch at once, so a revocation on one node cuts the device off on every
node within a second. The heartbeat tick syncs too, so a notice lost while NATS was away costs
latency, never a record.

One sync (:meth:`SharedIdentities.sync`, one at a time on a job queue) first merges what the
journal holds that this node has not read, then appends every local user whose record differs
from the journal's latest (an admin command run against this node, or a record this node merged
together with certificates of its own). A local change not yet shared keeps its fields when an
older entry for the same user is merged (only certificates and revocations are merged then):
it follows that entry in the journal and wins on every node. At start, the journal's fields win.
"""

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from rallypoint.errors import PkiError, StoreError
from rallypoint.pki.identities import IdentitySnapshot, IdentityStore
from rallypoint.pki.replica import UserRecord, export_records, from_json, merge_record
from rallypoint.pki.watch import IdentityWatch
from rallypoint.router.jobs import JobQueue
from rallypoint.router.notices import JournalNotices
from rallypoint.router.stats import Counters
from rallypoint.store.base import JournalStore

log = logging.getLogger(__name__)

STREAM_PREFIX = "identity:"
READ_PAGE = 1_000
"""Journal entries read per query."""
MAX_QUEUED_SYNCS = 2
"""One sync running and one waiting cover every change: a sync reads and compares everything."""


class SharedIdentities:
    """Shares this node's identity changes through the journal and merges the others'."""

    def __init__(
        self,
        identities: IdentityStore,
        watch: IdentityWatch,
        *,
        journal: Callable[[], JournalStore | None],
        notices: JournalNotices,
        counters: Counters,
        now_ms: Callable[[], int],
    ) -> None:
        self._identities = identities
        self._watch = watch
        self._journal = journal
        self._notices = notices
        self._counters = counters
        self._now_ms = now_ms
        self._journaled: dict[str, UserRecord] = {}
        """The latest record of each user the journal holds, as far as this node has read or written."""
        self._read_id = 0
        self._started = False
        self._queued = False
        self._jobs = JobQueue(
            "rallypoint-cluster-identities", MAX_QUEUED_SYNCS, (PkiError, StoreError), self._failed
        )
        self._undo: list[Callable[[], None]] = []

    async def start(self) -> None:
        """Merge the journal into this node's store and share what only this node has, then
        follow changes on both sides."""
        await self.sync()
        self._jobs.start()
        self._undo = [
            self._watch.subscribe(self._local_change),
            self._notices.subscribe(STREAM_PREFIX, self._notified),
        ]

    async def stop(self) -> None:
        for undo in self._undo:
            undo()
        self._undo = []
        await self._jobs.stop()

    def tick(self) -> None:
        """The bus's heartbeat: sync, in case a notice was lost."""
        self.request_sync()

    def request_sync(self) -> None:
        if not self._queued and self._jobs.put(self._queued_sync):
            self._queued = True

    async def _notified(self) -> None:
        self.request_sync()  # on the job queue: one sync at a time reads the journal

    def _local_change(self, _snapshot: IdentitySnapshot) -> None:
        self.request_sync()

    async def _queued_sync(self) -> None:
        self._queued = False
        await self.sync()

    def _failed(self, exc: Exception) -> None:
        self._counters.inc("cluster_identity_sync_failed")
        log.warning("cluster: identities not synced (next try at the next heartbeat): %s", exc)

    async def sync(self) -> None:
        """Merge unread journal entries, then append the local records that differ."""
        journal = self._journal()
        if journal is None:
            raise StoreError("the store is closed")
        merged = await self._merge_unread(journal)
        self._started = True
        for key, record in export_records(self._identities).items():
            known = self._journaled.get(key)
            if record == known:
                continue
            body = record.to_json()
            await journal.append_journal(STREAM_PREFIX + key, self._now_ms(), None, body)
            self._journaled[key] = record
            self._counters.inc("cluster_identities_shared")
            if record.revoked - (known.revoked if known is not None else frozenset()):
                self._counters.inc("cluster_revocations_shared")
            self._notices.changed(STREAM_PREFIX)
        if merged:
            self._watch.refresh(datetime.fromtimestamp(self._now_ms() / 1000, UTC))  # cut off at once

    async def _merge_unread(self, journal: JournalStore) -> bool:
        merged = False
        while True:
            entries = await journal.read_journal(STREAM_PREFIX, after_id=self._read_id, limit=READ_PAGE)
            local = export_records(self._identities) if entries else {}
            for entry in entries:
                self._read_id = entry.id
                try:
                    record = from_json(entry.body)
                except PkiError as exc:
                    self._counters.inc("cluster_identity_refused")
                    log.warning("cluster: identity journal entry %d refused: %s", entry.id, exc)
                    continue
                here = local.get(record.key)
                pending = self._started and here is not None and here != self._journaled.get(record.key)
                self._journaled[record.key] = record
                if here == record:
                    continue
                revoked = merge_record(self._identities, record, fields_too=not pending)
                merged = True
                local[record.key] = export_records(self._identities)[record.key]
                self._counters.inc("cluster_identities_merged")
                if revoked:
                    self._counters.inc("cluster_revocations_applied")
                    log.warning("cluster: %r revoked on another node: %d certificate(s) revoked here",
                                record.name, revoked)  # fmt: skip
            if len(entries) < READ_PAGE:
                return merged

"""The catch-up read of the shared journal, one page at a time.

In cluster mode every node keeps its own copy of the missions and the roll calls and applies
what other nodes appended, in id order. Both replicas read the journal the same way, so the
paging, the ``before`` bound and the error a reader sees are written once here.
"""

from collections.abc import AsyncIterator

from rallypoint.errors import MissionsUnavailable, StoreError
from rallypoint.store.base import JournalEntry, Store

CATCH_UP_PAGE = 1_000
"""Journal entries read per query while catching up."""


async def entries_after(
    store: Store, prefix: str, after_id: int, *, before: int | None = None
) -> AsyncIterator[JournalEntry]:
    """The entries of the streams under ``prefix`` after ``after_id`` (and below ``before``, if
    given), in id order, read a page at a time; :class:`MissionsUnavailable` if the store fails."""
    while True:
        try:
            entries = await store.read_journal(prefix, after_id=after_id, limit=CATCH_UP_PAGE)
        except StoreError as exc:
            raise MissionsUnavailable(f"the shared journal could not be read: {exc}") from exc
        for entry in entries:
            if before is not None and entry.id >= before:
                return
            yield entry
            after_id = entry.id
        if len(entries) < CATCH_UP_PAGE:
            return

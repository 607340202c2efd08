"""The situation cache: the latest non-stale event of every uid, replayed to new clients.

It holds positions and persistent map items (reference §5.7) so that a client that
connects sees the whole current picture at once. Entries leave at their stale time (never
later than ``max_ttl_ms`` after they arrived), on a delete for their uid, or when full.
"""

import heapq
from collections.abc import Iterator
from typing import NamedTuple

from rallypoint.router.message import Outbound

DEFAULT_MAX_ENTRIES = 100_000
"""Bounds memory: ~2 KB an entry, so ~200 MB at the cap; far above any real picture."""

DEFAULT_MAX_TTL_MS = 24 * 3600 * 1000
"""Events claiming to stay valid for years are kept a day at most."""


class CacheEntry(NamedTuple):
    """One cached event with the groups that may see it."""

    message: Outbound
    groups: frozenset[str]
    """The sender's groups when it arrived: only members of these get the replay."""
    expires: int
    sender_id: int


class SituationCache:
    """Latest event per uid with expiry by a clock value passed in."""

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES, max_ttl_ms: int = DEFAULT_MAX_TTL_MS) -> None:
        self.max_entries = max_entries
        self.max_ttl_ms = max_ttl_ms
        self._entries: dict[str, CacheEntry] = {}
        self._expiry: list[tuple[int, str]] = []
        self._scheduled: dict[str, int] = {}
        """The one live heap time per uid. A position report pushes later expiries every few
        seconds; rather than a heap item each, the item due first is rescheduled when it pops."""

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, uid: str) -> bool:
        return uid in self._entries

    def get(self, uid: str) -> CacheEntry | None:
        """The cached entry for ``uid``."""
        return self._entries.get(uid)

    def put(self, message: Outbound, groups: frozenset[str], sender_id: int, now_ms: int) -> bool:
        """Keep ``message`` as the latest for its uid unless an entry with a newer time exists.

        Returns False when the message was older than what is cached, or already stale.
        """
        event = message.event
        current = self._entries.get(event.uid)
        if current is not None and current.message.event.time > event.time:
            return False
        expires = min(event.stale, now_ms + self.max_ttl_ms)
        if expires <= now_ms:
            return False
        if current is None and len(self._entries) >= self.max_entries:
            self._evict_soonest()
        self._entries[event.uid] = CacheEntry(message, groups, expires, sender_id)
        scheduled = self._scheduled.get(event.uid)
        if scheduled is None or expires < scheduled:
            self._scheduled[event.uid] = expires
            heapq.heappush(self._expiry, (expires, event.uid))
        return True

    def remove(self, uid: str) -> CacheEntry | None:
        """Drop ``uid`` (a delete arrived, or its client left)."""
        return self._entries.pop(uid, None)

    def expire(self, now_ms: int) -> list[str]:
        """Drop every entry whose time is up; return their uids."""
        expired: list[str] = []
        while self._expiry and self._expiry[0][0] <= now_ms:
            expires, uid = heapq.heappop(self._expiry)
            if self._scheduled.get(uid) != expires:
                continue  # superseded by an earlier item for the same uid
            del self._scheduled[uid]
            entry = self._entries.get(uid)
            if entry is None:
                continue
            if entry.expires <= now_ms:
                del self._entries[uid]
                expired.append(uid)
            else:
                self._scheduled[uid] = entry.expires
                heapq.heappush(self._expiry, (entry.expires, uid))
        return expired

    def _evict_soonest(self) -> None:
        """Make room: drop the entry whose scheduled expiry comes first."""
        while self._expiry:
            expires, uid = heapq.heappop(self._expiry)
            if self._scheduled.get(uid) == expires:
                del self._scheduled[uid]
                if self._entries.pop(uid, None) is not None:
                    return

    def visible_to(
        self, groups: frozenset[str], now_ms: int, skip_uid: str | None = None
    ) -> Iterator[Outbound]:
        """Non-stale cached messages that a member of ``groups`` may see."""
        for uid, entry in list(self._entries.items()):
            if entry.expires > now_ms and uid != skip_uid and not entry.groups.isdisjoint(groups):
                yield entry.message

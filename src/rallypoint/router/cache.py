"""The situation cache: the latest non-stale event of every uid, replayed to new clients.

It holds positions and persistent map items (reference §5.7) so that a client that
connects sees the whole current picture at once. Entries leave at their stale time (never
later than ``max_ttl_ms`` after they arrived) or on a delete for their uid.

Nobody can push out someone else's picture: a full cache refuses new uids rather than
evicting old ones, and each group and each owner (identity, device or connection) holds at
most its share, so one flooding sender fills its own share and no more.
"""

import heapq
from collections.abc import Iterator
from typing import NamedTuple

from rallypoint.router.message import Outbound

DEFAULT_MAX_ENTRIES = 100_000
"""Bounds memory: ~2 KB an entry, so ~200 MB at the cap; far above any real picture."""

DEFAULT_MAX_PER_GROUP = 50_000
"""Entries one group's members may hold: a flooding group leaves room for the others."""

DEFAULT_MAX_PER_OWNER = 10_000
"""Entries one sender may hold; a large exercise has a few thousand map items in all."""

DEFAULT_MAX_TTL_MS = 24 * 3600 * 1000
"""Events claiming to stay valid for years are kept a day at most."""


class CacheEntry(NamedTuple):
    """One cached event with the groups that may see it."""

    message: Outbound
    groups: frozenset[str]
    """The sender's groups when it arrived: only members of these get the replay."""
    expires: int
    sender_id: int
    owner: str = ""
    """Who sent it, for the per-owner share; empty for what the server restored or raised."""


class SituationCache:
    """Latest event per uid with expiry by a clock value passed in."""

    def __init__(
        self,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        max_ttl_ms: int = DEFAULT_MAX_TTL_MS,
        *,
        max_per_group: int = DEFAULT_MAX_PER_GROUP,
        max_per_owner: int = DEFAULT_MAX_PER_OWNER,
    ) -> None:
        self.max_entries = max_entries
        self.max_ttl_ms = max_ttl_ms
        self.max_per_group = max_per_group
        self.max_per_owner = max_per_owner
        self.refused = 0
        """New uids refused because the cache, a group's share or an owner's share was full."""
        self._entries: dict[str, CacheEntry] = {}
        self._per_group: dict[str, int] = {}
        self._per_owner: dict[str, int] = {}
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

    def put(
        self, message: Outbound, groups: frozenset[str], sender_id: int, now_ms: int, owner: str = ""
    ) -> bool:
        """Keep ``message`` as the latest for its uid unless an entry with a newer time exists.

        Returns False when the message was older than what is cached, already stale, or a
        new uid for which there is no room (see :attr:`refused`).
        """
        event = message.event
        current = self._entries.get(event.uid)
        if current is not None and current.message.event.time > event.time:
            return False
        expires = min(event.stale, now_ms + self.max_ttl_ms)
        if expires <= now_ms:
            return False
        if current is None and not self._has_room(groups, owner):
            self.refused += 1
            return False
        entry = CacheEntry(message, groups, expires, sender_id, owner)
        self._entries[event.uid] = entry
        if current is None or current.owner != owner or current.groups != groups:
            # a uid's update from the same sender in the same groups (nearly every one) moves no share
            if current is not None:
                self._count(current, -1)
            self._count(entry, 1)
        scheduled = self._scheduled.get(event.uid)
        if scheduled is None or expires < scheduled:
            self._scheduled[event.uid] = expires
            heapq.heappush(self._expiry, (expires, event.uid))
        return True

    def _has_room(self, groups: frozenset[str], owner: str) -> bool:
        """Room in the cache, in every group's share and in the owner's (none for the server's own)."""
        if len(self._entries) >= self.max_entries:
            return False
        if owner and self._per_owner.get(owner, 0) >= self.max_per_owner:
            return False
        return all(self._per_group.get(group, 0) < self.max_per_group for group in groups)

    def _count(self, entry: CacheEntry, step: int) -> None:
        for tally, keys in ((self._per_group, entry.groups), (self._per_owner, (entry.owner,))):
            for key in keys:
                left = tally.get(key, 0) + step
                if left:
                    tally[key] = left
                else:
                    del tally[key]

    def remove(self, uid: str) -> CacheEntry | None:
        """Drop ``uid`` (a delete arrived, or its client left)."""
        entry = self._entries.pop(uid, None)
        if entry is not None:
            self._count(entry, -1)
        return entry

    def expire(self, now_ms: int, removed: list[CacheEntry] | None = None) -> list[str]:
        """Drop every entry whose time is up; return their uids (and append the entries to
        ``removed`` when given: the router tells who was watching which device went stale)."""
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
                self.remove(uid)
                expired.append(uid)
                if removed is not None:
                    removed.append(entry)
            else:
                self._scheduled[uid] = entry.expires
                heapq.heappush(self._expiry, (entry.expires, uid))
        return expired

    def visible_to(
        self, groups: frozenset[str], now_ms: int, skip_uid: str | None = None
    ) -> Iterator[Outbound]:
        """Non-stale cached messages that a member of ``groups`` may see."""
        for uid, entry in list(self._entries.items()):
            if entry.expires > now_ms and uid != skip_uid and not entry.groups.isdisjoint(groups):
                yield entry.message

"""A bounded per-client write queue with an explicit overflow policy.

Messages wait here while the socket cannot take more. When the queue is full, a newer
position report replaces a queued one of the same uid; failing that, the oldest queued
position report is dropped to make room. Directed messages and map items are never
dropped: if only those remain, the queue reports an overflow and the caller disconnects
the client (it is stuck, and it will get the current picture again when it reconnects).
"""

from enum import Enum


class PutResult(Enum):
    """What :meth:`Outbox.put` did with a message."""

    QUEUED = "queued"
    REPLACED = "replaced"
    """Took the place of a queued position report with the same key."""
    DROPPED_OLDER = "dropped_older"
    """Queued, after dropping the oldest queued position report."""
    OVERFLOW = "overflow"
    """Not queued: the queue is full of messages that must not be dropped."""


class Outbox:
    """Bytes waiting to be written to one client, in order."""

    __slots__ = ("_items", "_keys", "max_bytes", "max_messages", "queued_bytes", "queued_messages")

    def __init__(self, max_messages: int, max_bytes: int) -> None:
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self._items: list[bytes | None] = []
        self._keys: dict[str, int] = {}
        """Replaceable entries: key -> index in ``_items``, oldest first."""
        self.queued_messages = 0
        self.queued_bytes = 0

    def __bool__(self) -> bool:
        return self.queued_messages > 0

    def put(self, data: bytes, replace_key: str | None = None) -> PutResult:
        """Queue ``data``; ``replace_key`` marks it replaceable (a position report's uid)."""
        if self.queued_messages < self.max_messages and self.queued_bytes + len(data) <= self.max_bytes:
            self._append(data, replace_key)
            return PutResult.QUEUED
        if replace_key is not None and replace_key in self._keys:
            index = self._keys[replace_key]
            old = self._items[index]
            assert old is not None
            self._items[index] = data
            self.queued_bytes += len(data) - len(old)
            return PutResult.REPLACED
        while self._keys:
            key = next(iter(self._keys))
            self._discard(self._keys.pop(key))
            if self.queued_messages < self.max_messages and self.queued_bytes + len(data) <= self.max_bytes:
                self._append(data, replace_key)
                return PutResult.DROPPED_OLDER
        return PutResult.OVERFLOW

    def _append(self, data: bytes, replace_key: str | None) -> None:
        if replace_key is not None:
            self._keys.pop(replace_key, None)
            self._keys[replace_key] = len(self._items)
        self._items.append(data)
        self.queued_messages += 1
        self.queued_bytes += len(data)

    def _discard(self, index: int) -> None:
        old = self._items[index]
        assert old is not None
        self._items[index] = None
        self.queued_messages -= 1
        self.queued_bytes -= len(old)

    def take(self) -> bytes:
        """Everything queued, joined for one write, and the queue emptied."""
        data = b"".join(item for item in self._items if item is not None)
        self._items = []
        self._keys = {}
        self.queued_messages = 0
        self.queued_bytes = 0
        return data

"""A bounded per-client write queue with priority classes and an explicit overflow policy.

Messages wait here while the socket cannot take more. They leave in three classes, each in
its own order (docs/delivery.md):

1. **urgent**: emergencies (``b-a-o-*``, ``b-a-g``) and their cancellations;
2. **must deliver**: directed messages, map items, deletes, control answers: never dropped;
3. **positions**: position reports, coalesced per uid: a newer report of a uid takes the
   place of the queued one wherever it is in the queue, so a slow link carries one current
   position per device instead of a backlog of obsolete ones.

When the queue is full the oldest queued position report is dropped to make room; if only
messages that must not be dropped remain, the queue reports an overflow and the caller
disconnects the client (it is stuck; what was directed to it goes back to its mailbox).
"""

from enum import Enum

from rallypoint.router.message import Outbound


class PutResult(Enum):
    """What :meth:`Outbox.put` did with a message."""

    QUEUED = "queued"
    REPLACED = "replaced"
    """Took the place of a queued position report with the same key."""
    DROPPED_OLDER = "dropped_older"
    """Queued, after dropping the oldest queued position report."""
    OVERFLOW = "overflow"
    """Not queued: the queue is full of messages that must not be dropped."""


_Item = tuple[bytes, Outbound | None]
"""Bytes to write, and the message they carry when it must be kept again if never acknowledged."""


class Outbox:
    """Bytes waiting to be written to one client (see the module docstring)."""

    __slots__ = (
        "_must",
        "_positions",
        "_urgent",
        "max_bytes",
        "max_messages",
        "queued_bytes",
        "queued_messages",
    )

    def __init__(self, max_messages: int, max_bytes: int) -> None:
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self._urgent: list[_Item] = []
        self._must: list[_Item] = []
        self._positions: dict[str, _Item] = {}
        """By replace key, oldest first; a replacement keeps its place."""
        self.queued_messages = 0
        self.queued_bytes = 0

    def __bool__(self) -> bool:
        return self.queued_messages > 0

    def put(
        self,
        data: bytes,
        replace_key: str | None = None,
        *,
        urgent: bool = False,
        returnable: Outbound | None = None,
    ) -> PutResult:
        """Queue ``data``; ``replace_key`` marks a position report (its uid); ``returnable`` is the
        message to hand back by :meth:`returnable` if the connection ends before it is written."""
        item = (data, returnable)
        if replace_key is not None and not urgent:
            old = self._positions.get(replace_key)
            if old is not None:
                self._positions[replace_key] = item
                self.queued_bytes += len(data) - len(old[0])
                return PutResult.REPLACED
        result = PutResult.QUEUED
        while not self._fits(data):
            if not self._positions:
                return PutResult.OVERFLOW
            dropped = self._positions.pop(next(iter(self._positions)))
            self.queued_messages -= 1
            self.queued_bytes -= len(dropped[0])
            result = PutResult.DROPPED_OLDER
        if urgent:
            self._urgent.append(item)
        elif replace_key is not None:
            self._positions[replace_key] = item
        else:
            self._must.append(item)
        self.queued_messages += 1
        self.queued_bytes += len(data)
        return result

    def _fits(self, data: bytes) -> bool:
        return self.queued_messages < self.max_messages and self.queued_bytes + len(data) <= self.max_bytes

    def take(self) -> bytes:
        """Everything queued, joined for one write in class order, and the queue emptied."""
        return self.take_with_returnable()[0]

    def take_with_returnable(self) -> tuple[bytes, list[Outbound]]:
        """Like :meth:`take`, with the returnable messages in the order they are written."""
        items = [*self._urgent, *self._must, *self._positions.values()]
        self._urgent, self._must, self._positions = [], [], {}
        self.queued_messages = 0
        self.queued_bytes = 0
        return b"".join(data for data, _ in items), [message for _, message in items if message is not None]

    def returnable(self) -> list[Outbound]:
        """The returnable messages still queued, in the order they would have been written."""
        return [message for _, message in (*self._urgent, *self._must) if message is not None]

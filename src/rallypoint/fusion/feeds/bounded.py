"""A dictionary that forgets its least recently used entries past a size limit.

Decoders keep per-object state (an aircraft's last callsign, a vessel's name) that must
not grow with every identity ever heard: a busy AIS feed sees tens of thousands of MMSIs.
"""

from collections import OrderedDict
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")

MAX_OBJECTS = 20_000
"""Per-decoder objects remembered; a wide-area AIS feed holds about 15 000 at once."""


class BoundedMap(Generic[K, V]):
    """Least-recently-used mapping with a hard cap on its size."""

    def __init__(self, limit: int = MAX_OBJECTS) -> None:
        self.limit = limit
        self._items: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        """The value for ``key`` (marked as recently used), or None."""
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        """Set ``key``; the oldest entry goes if the map is full."""
        self._items[key] = value
        self._items.move_to_end(key)
        if len(self._items) > self.limit:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)

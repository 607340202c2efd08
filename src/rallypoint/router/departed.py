"""Who an offline device was: its uid, callsign and groups when it left (or at start-up).

Store-and-forward needs to know, for a directed message naming a device that is not
connected, which device uid it is (a ``dest`` may name a callsign) and whether the sender
may reach it (its last groups). Kept in memory, bounded; refilled at start-up from the
stored picture, so it also covers devices that have not returned since a restart.
"""

import itertools
from typing import NamedTuple

from rallypoint.cot import types
from rallypoint.cot.event import Dest

MAX_DEPARTED = 100_000
"""Devices remembered; past it the older half is forgotten."""

_CALLSIGN_KEY = "callsign:"


class Departed(NamedTuple):
    """An offline device: where its mail goes and who may write to it."""

    uid: str
    groups: frozenset[str]


class DepartedDevices:
    """A bounded map from device uid and callsign to :class:`Departed`."""

    def __init__(self, limit: int = MAX_DEPARTED) -> None:
        self._known: dict[str, Departed] = {}
        self._limit = limit

    def __len__(self) -> int:
        return len(self._known)

    def remember(self, uid: str, callsign: str | None, groups: frozenset[str]) -> None:
        """Record a device that directed messages may be kept for."""
        known = self._known
        if len(known) >= self._limit:
            for stale_key in list(itertools.islice(known, len(known) // 2)):
                del known[stale_key]
        device = Departed(uid, groups)
        known[uid] = device
        if callsign:
            known[_CALLSIGN_KEY + callsign] = device

    def named_by(self, dest: Dest) -> Departed | None:
        """The device a ``<dest>`` names by uid or callsign, if it is known."""
        if dest.uid:
            return self._known.get(dest.uid)
        if dest.callsign and dest.callsign != types.ALL_STREAMING:
            return self._known.get(_CALLSIGN_KEY + dest.callsign)
        return None

"""Anti-spoofing: who introduced a uid or a callsign first owns it (issue 3, item 4).

TAK Server lets any client reuse any uid, so one device can move another's marker on every
map or post a position under another's name. Here each *owner* (an authenticated identity,
or an anonymous connection when the plain port enforces it too) owns the uids of the events
it sent first and the callsigns of its own position reports; another sender's event that
reuses them is refused. The table is sans-I/O and bounded: entries are kept in order of
last use, an owner over its quota forgets its own oldest claims (so a flooding sender only
evicts itself), and the whole table forgets the least recently used claims past its cap.
"""

from typing import NamedTuple

from rallypoint.cot import types
from rallypoint.cot.event import Event
from rallypoint.router.skeleton import skeleton

DEFAULT_MAX_UIDS = 200_000
"""Owned uids kept in all (~150 bytes each, ~30 MB): far more than a live picture holds."""

DEFAULT_MAX_UIDS_PER_OWNER = 5_000
"""One owner's claims: its own position plus every marker, drawing and chat it sent recently."""

DEFAULT_MAX_CALLSIGNS = 50_000
"""Owned callsigns kept in all: a few per device."""

MAX_CALLSIGNS_PER_OWNER = 4
"""A device renamed a few times keeps its recent names; older ones become free again."""


class Refusal(NamedTuple):
    """Why an event was refused: what it claimed, and who owns that."""

    claim: str
    """``uid``, ``callsign`` or ``delete`` (a delete naming another owner's uid)."""
    subject: str
    """The uid or callsign that belongs to someone else."""
    owner: str
    """Its rightful owner."""


def callsign_key(callsign: str) -> str:
    """Callsigns compare by what a reader sees: "ALPHA ", "Alpha" and "ALPHA" with a Cyrillic A are one."""
    return skeleton(callsign)


class _Claims:
    """One kind of claim (uids or callsigns): name -> owner, in order of last use, bounded."""

    __slots__ = ("_by_owner", "_owners", "max_per_owner", "max_total")

    def __init__(self, max_total: int, max_per_owner: int) -> None:
        self.max_total = max_total
        self.max_per_owner = max_per_owner
        self._owners: dict[str, str] = {}
        """name -> owner; re-inserted on every use so the first key is the least recently used."""
        self._by_owner: dict[str, dict[str, None]] = {}
        """owner -> its names in the same order (a dict used as an ordered set)."""

    def __len__(self) -> int:
        return len(self._owners)

    def owner(self, name: str) -> str | None:
        return self._owners.get(name)

    def claim(self, owner: str, name: str) -> None:
        """Record (or refresh) ``owner``'s claim on ``name``, then enforce the limits."""
        if name in self._owners:
            self._forget(name)  # moved to the end below: the most recently used
        names = self._by_owner.get(owner)
        if names is None:
            names = self._by_owner[owner] = {}
        self._owners[name] = owner
        names[name] = None
        if len(names) > self.max_per_owner:
            self._forget(next(iter(names)))
        if len(self._owners) > self.max_total:
            self._forget(next(iter(self._owners)))

    def release(self, owner: str) -> None:
        """Forget every claim of ``owner``."""
        for name in self._by_owner.pop(owner, {}):
            del self._owners[name]

    def _forget(self, name: str) -> None:
        owner = self._owners.pop(name)
        names = self._by_owner[owner]
        del names[name]
        if not names:
            del self._by_owner[owner]


class OwnershipTable:
    """Owners of uids and callsigns; :meth:`admit` checks one event and records its claims."""

    def __init__(
        self,
        *,
        max_uids: int = DEFAULT_MAX_UIDS,
        max_uids_per_owner: int = DEFAULT_MAX_UIDS_PER_OWNER,
        max_callsigns: int = DEFAULT_MAX_CALLSIGNS,
    ) -> None:
        self._uids = _Claims(max_uids, max_uids_per_owner)
        self._callsigns = _Claims(max_callsigns, MAX_CALLSIGNS_PER_OWNER)

    @property
    def uid_count(self) -> int:
        """Owned uids currently remembered."""
        return len(self._uids)

    def uid_owner(self, uid: str) -> str | None:
        """Who owns ``uid``, if anyone does."""
        return self._uids.owner(uid)

    def callsign_owner(self, callsign: str) -> str | None:
        """Who owns ``callsign`` (compared by :func:`callsign_key`), if anyone does."""
        return self._callsigns.owner(callsign_key(callsign))

    def admit(self, sender: str | None, event: Event) -> Refusal | None:
        """Refuse ``event`` if it reuses what another owner holds; otherwise record its claims.

        ``sender`` is the owner sending it, or None for a sender that claims nothing (an
        anonymous input where ownership is not enforced): such a sender still may not reuse
        what an owner holds, so an anonymous port cannot overwrite an identity's picture.
        A delete claims nothing; it is refused when it names a uid another owner holds.
        """
        if sender is None and not self._uids and not self._callsigns:
            return None  # the plain port's usual case: nothing owned, nothing to claim
        if event.type == types.DELETE:
            return self._admit_delete(sender, event)
        uid_owner = self._uids.owner(event.uid)
        if uid_owner is not None and uid_owner != sender:
            return Refusal("uid", event.uid, uid_owner)
        callsign = event.callsign if event.is_situational_awareness else None
        key = callsign_key(callsign) if callsign and (sender is not None or self._callsigns) else None
        if key is not None:
            callsign_owner = self._callsigns.owner(key)
            if callsign_owner is not None and callsign_owner != sender:
                return Refusal("callsign", callsign or key, callsign_owner)
        if sender is not None:
            self._uids.claim(sender, event.uid)
            if key is not None:
                self._callsigns.claim(sender, key)
        return None

    def _admit_delete(self, sender: str | None, event: Event) -> Refusal | None:
        for link in event.detail.links if event.detail else ():
            owner = self._uids.owner(link.uid)
            if owner is not None and owner != sender:
                return Refusal("delete", link.uid, owner)
        return None

    def release(self, owner: str) -> None:
        """Forget everything ``owner`` claimed (an anonymous connection closed)."""
        self._uids.release(owner)
        self._callsigns.release(owner)

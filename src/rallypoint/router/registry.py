"""Connected clients, indexed the ways routing looks them up: group, uid, callsign."""

import itertools
from collections.abc import Callable, Iterable
from collections.abc import Set as AbstractSet
from typing import NamedTuple

from rallypoint.router.message import Outbound

ANONYMOUS_GROUP = "__ANON__"
"""The group every anonymous client (plain port, UDP input) is in, both directions."""
_ANONYMOUS_GROUPS = frozenset((ANONYMOUS_GROUP,))
"""One set shared by every anonymous subscriber (``frozenset`` of a frozenset is that set):
ten thousand idle connections need not hold ten thousand copies."""

Wake = Callable[[], None]

_next_id = itertools.count(1).__next__


def _always_writable() -> bool:
    return True


class Subscriber:
    """The router's view of one client connection (or of an input that only sends).

    The connection owns the socket. The router appends messages to ``pending`` and calls
    ``wake`` when the list was empty, so the connection drains it once per loop turn and
    writes everything in one go: fan-out costs a list append per recipient, not a call.
    ``pending`` only ever holds what arrived during one loop turn; the connection's own
    bounded outbox (``rallypoint.transport.outbox``) holds what the socket cannot take yet.
    ``in_groups`` are the groups it may send into, ``out_groups`` those it receives from.
    ``owner`` is who owns the uids and callsigns it introduces (``rallypoint.router.ownership``):
    its identity, or for an anonymous connection that is checked too, a key of that
    connection (its claims end with it); None when it claims nothing.
    """

    __slots__ = (
        "address",
        "binds",
        "callsign",
        "connected_at",
        "crossing",
        "held",
        "id",
        "identity",
        "in_groups",
        "last_seen",
        "last_type",
        "on_writable",
        "out_groups",
        "owner",
        "pending",
        "receives",
        "role",
        "team",
        "transport",
        "uid",
        "wake",
        "writable",
    )

    def __init__(
        self,
        wake: Wake,
        *,
        transport: str,
        address: str = "",
        in_groups: Iterable[str] = _ANONYMOUS_GROUPS,
        out_groups: Iterable[str] = _ANONYMOUS_GROUPS,
        identity: str | None = None,
        owner: str | None = None,
        receives: bool = True,
        binds: bool = True,
        now_ms: int = 0,
    ) -> None:
        self.id = _next_id()
        self.wake = wake
        self.pending: list[Outbound] = []
        self.held: list[Outbound] | None = None
        """While its kept mail is being read (store-and-forward), directed messages wait here."""
        self.writable: Callable[[], bool] = _always_writable
        """Whether its write queue has drained (a connection sets its own): kept mail is handed
        over a page at a time, each only when the one before has left the queue."""
        self.on_writable: Callable[[], None] | None = None
        """Called once (then cleared) by the connection when :attr:`writable` becomes true, or
        when the connection ends."""
        self.transport = transport
        self.address = address
        self.in_groups = frozenset(in_groups)
        self.out_groups = frozenset(out_groups) if receives else frozenset()
        self.identity = identity
        self.owner = owner
        self.receives = receives
        self.binds = binds
        """False for inputs shared by many devices (UDP): they never take a device's uid."""
        self.uid: str | None = None
        self.callsign: str | None = None
        self.team: str | None = None
        self.role: str | None = None
        self.last_type: str | None = None
        self.crossing: str | None = None
        """Site federation: while a stand-in routes an event from another site, that event's key
        there (remote, uid, time), stored with it and with its mail so a restart stores neither twice."""
        self.connected_at = now_ms
        self.last_seen = now_ms

    def deliver(self, message: Outbound) -> None:
        """Hand one message to this client (the router's hot loop inlines this)."""
        if not self.pending:
            self.wake()
        self.pending.append(message)

    def __repr__(self) -> str:
        return f"<Subscriber {self.id} {self.transport} {self.address} uid={self.uid!r}>"


class ClientInfo(NamedTuple):
    """A read-only row about a client, for the API and the logs."""

    uid: str | None
    callsign: str | None
    team: str | None
    role: str | None
    address: str
    transport: str
    groups: frozenset[str]
    connected_at: int
    last_seen: int
    identity: str | None = None
    """The user of an authenticated connection (None: anonymous)."""


class Registry:
    """The set of connected subscribers and their indexes."""

    def __init__(self) -> None:
        self._subscribers: dict[int, Subscriber] = {}
        self._by_group: dict[str, set[Subscriber]] = {}
        self._by_uid: dict[str, Subscriber] = {}
        self._by_callsign: dict[str, set[Subscriber]] = {}

    def __len__(self) -> int:
        return len(self._subscribers)

    def add(self, subscriber: Subscriber) -> None:
        """Register a new connection; it starts receiving from its groups at once."""
        self._subscribers[subscriber.id] = subscriber
        self._index_groups(subscriber)

    def remove(self, subscriber: Subscriber) -> None:
        """Forget a closed connection and every index entry pointing at it."""
        if self._subscribers.pop(subscriber.id, None) is None:
            return
        self._unindex_groups(subscriber)
        if subscriber.uid is not None and self._by_uid.get(subscriber.uid) is subscriber:
            del self._by_uid[subscriber.uid]
        self._unindex_callsign(subscriber)

    def regroup(self, subscriber: Subscriber, in_groups: frozenset[str], out_groups: frozenset[str]) -> None:
        """Change a connected client's groups (an operator edited its user): effective at once."""
        registered = subscriber.id in self._subscribers
        if registered:
            self._unindex_groups(subscriber)
        subscriber.in_groups = in_groups
        subscriber.out_groups = out_groups if subscriber.receives else frozenset()
        if registered:
            self._index_groups(subscriber)

    def _index_groups(self, subscriber: Subscriber) -> None:
        for group in subscriber.out_groups:
            self._by_group.setdefault(group, set()).add(subscriber)

    def _unindex_groups(self, subscriber: Subscriber) -> None:
        for group in subscriber.out_groups:
            members = self._by_group.get(group)
            if members is not None:
                members.discard(subscriber)
                if not members:
                    del self._by_group[group]

    def bind(self, subscriber: Subscriber, uid: str, callsign: str | None) -> None:
        """Record the uid and callsign a connection announced in its position report."""
        if subscriber.uid != uid:
            if subscriber.uid is not None and self._by_uid.get(subscriber.uid) is subscriber:
                del self._by_uid[subscriber.uid]
            subscriber.uid = uid
            self._by_uid[uid] = subscriber
        if callsign and callsign != subscriber.callsign:
            self._unindex_callsign(subscriber)
            subscriber.callsign = callsign
            self._by_callsign.setdefault(callsign, set()).add(subscriber)

    def _unindex_callsign(self, subscriber: Subscriber) -> None:
        if subscriber.callsign is None:
            return
        holders = self._by_callsign.get(subscriber.callsign)
        if holders is not None:
            holders.discard(subscriber)
            if not holders:
                del self._by_callsign[subscriber.callsign]

    def by_uid(self, uid: str) -> Subscriber | None:
        """The connection bound to ``uid``, if any."""
        return self._by_uid.get(uid)

    def by_callsign(self, callsign: str) -> AbstractSet[Subscriber]:
        """Connections bound to ``callsign`` (callsigns are not unique)."""
        return self._by_callsign.get(callsign, _EMPTY)

    def members(self, group: str) -> AbstractSet[Subscriber]:
        """Connections receiving from ``group``. The set is live: do not modify it."""
        return self._by_group.get(group, _EMPTY)

    def reachable_from(self, groups: frozenset[str]) -> AbstractSet[Subscriber]:
        """Connections that receive from at least one of ``groups``."""
        if len(groups) == 1:
            return self.members(next(iter(groups)))
        found: set[Subscriber] = set()
        for group in groups:
            found |= self.members(group)
        return found

    def clients(self) -> list[ClientInfo]:
        """One row per connected client that sends or receives, for the API."""
        return [
            ClientInfo(
                uid=sub.uid,
                callsign=sub.callsign,
                team=sub.team,
                role=sub.role,
                address=sub.address,
                transport=sub.transport,
                groups=sub.out_groups | sub.in_groups,
                connected_at=sub.connected_at,
                last_seen=sub.last_seen,
                identity=sub.identity,
            )
            for sub in self._subscribers.values()
        ]


_EMPTY: frozenset[Subscriber] = frozenset()

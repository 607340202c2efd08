"""What crosses a federation link, decided without I/O: leaving this site, entering it.

Leaving: the router's publishing hook tells :func:`leaving` each event routed here; each
remote whose outbound rule lets it out gets one copy, its sender described with only the
groups it may leave in. Events that entered from a remote never leave again, so nothing
echoes and nothing is relayed on to a third site.

Entering: :class:`Arrivals` (one per remote) applies the inbound rule (kinds, remote→local
group mapping; an unmapped group never enters), skips stale events (not deletes: one applied
late is still right) and an event whose uid and time it has routed already (a republish
after an outage, a source resumed twice). It routes the rest into the local router as a
local sender would be routed, through :meth:`Router.submit`, with a stand-in
:class:`Subscriber` per remote connection. So a directed message reaches its recipient here
once, or is kept in this site's mailbox for an offline one and delivered once when it
returns; the event is stored in this site's history, and this site's observers (missions,
fusion, the web live feed) are told. A remote device's own position report makes it known
here as connected to that site, so a chat sent here to it is neither kept in this site's
mailbox nor answered "undeliverable": the remote site delivers it. A stand-in owns nothing
here (``owner`` None): it may not overwrite what a local identity owns, and a device that
moves from one site to the other is not refused its own uid.
"""

from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import NamedTuple

from rallypoint.cot import types
from rallypoint.cot.event import Event
from rallypoint.federation.policy import Policy, Remote, kind_of
from rallypoint.router.message import Outbound
from rallypoint.router.registry import Subscriber
from rallypoint.router.remote import RemoteSender
from rallypoint.router.router import Router

FEDERATION_TRANSPORT = "federation"
"""``Subscriber.transport`` of the stand-in of a sender at another site."""
MAX_REMEMBERED = 200_000
"""(uid, time) pairs of routed remote events remembered per remote, to drop repeats: more than
an hour of a busy site's traffic, i.e. longer than a republish or a resumed source reaches back."""
MAX_STAND_INS = 100_000
"""Remote connections remembered per remote; past it the one heard from longest ago goes."""


class Leaving(NamedTuple):
    """One copy of an event for one remote site."""

    remote: str
    msg_id: str
    """``Nats-Msg-Id``: the remote, the event's uid and time (JetStream drops a republish)."""
    sender: RemoteSender


def leaving(policy: Policy, message: Outbound, sender: Subscriber) -> Iterator[Leaving]:
    """The copies of a routed event (or a departure) the outbound rules let leave, one per remote."""
    if sender.transport == FEDERATION_TRANSPORT:
        return
    event = message.event
    groups = sender.in_groups
    detail_xml = event.detail.xml if event.detail is not None else ""
    for remote in policy.remotes:
        allowed = remote.leaving(event.type, groups, detail_xml)
        if not allowed:
            continue
        described = RemoteSender(
            policy.site,
            sender.id,
            sender.identity,
            sender.uid,
            sender.callsign,
            sender.team,
            allowed,
            allowed,
        )
        yield Leaving(remote.site, f"{remote.site}:{event.uid}:{event.time}", described)


def _ignore() -> None:
    """A stand-in is never woken: what the router hands it (a mailbox answer) is dropped."""


DeliverTo = Callable[..., bool]
"""The mailbox's ``send_to`` for what the remote server sent one device here: ``(uid, event,
crossing=key)``; delivered now, or kept in this site's mailbox once per key."""


def sent_here(policy: Policy, site: str, event: Event) -> str | None:
    """The ``Nats-Msg-Id`` prefix of the server's own ``event`` for a device at ``site``, or None
    if ``site``'s outbound rule does not let its kind out (then it is kept here)."""
    detail_xml = event.detail.xml if event.detail is not None else ""
    for remote in policy.remotes:
        if remote.site == site and kind_of(event.type, detail_xml) in remote.outbound.kinds:
            return f"{site}:{event.uid}:{event.time}"
    return None


class Arrivals:
    """Routes one remote site's events into the local router (see the module docstring)."""

    def __init__(
        self,
        router: Router,
        remote: Remote,
        limit: int = MAX_REMEMBERED,
        deliver_to: DeliverTo | None = None,
    ) -> None:
        self._router = router
        self._deliver_to = deliver_to
        self.remote = remote
        self._limit = limit
        self._seen: OrderedDict[tuple[str, int], None] = OrderedDict()
        self._stand_ins: OrderedDict[int, Subscriber] = OrderedDict()

    def route(
        self, origin: RemoteSender, event: Event, xml: bytes, *, departed: bool, now_ms: int
    ) -> int | None:
        """Route one remote event here; how many local clients it reached, or None if it was
        dropped (counted by reason)."""
        counters = self._router.counters
        detail_xml = event.detail.xml if event.detail is not None else ""
        groups = self.remote.entering(event.type, origin.in_groups, detail_xml)
        if not groups:
            counters.inc("federation_dropped{reason=policy}")
            return None
        if event.stale < now_ms and event.type != types.DELETE:  # a late delete is still right
            counters.inc("federation_dropped{reason=stale}")
            return None
        key = (event.uid, event.time)
        if key in self._seen:
            counters.inc("federation_duplicate")
            return None
        self._seen[key] = None
        if len(self._seen) > self._limit:
            self._seen.popitem(last=False)
        stand_in = self._stand_in(origin, groups, now_ms)
        if departed:
            self._stand_ins.pop(origin.connection, None)
        else:
            self._learn_device(origin, groups, event, now_ms)
        counters.inc("federation_received")
        stand_in.crossing = f"{self.remote.site}:{event.uid}:{event.time}"
        try:
            return self._router.submit(stand_in, event, xml, now_ms)
        finally:
            stand_in.crossing = None

    def sent_to(self, uid: str, event: Event, now_ms: int) -> bool | None:
        """The remote server's own ``event`` (an objective, a mission notice) for device ``uid``
        here: delivered (True), kept in this site's mailbox (False), or dropped (None)."""
        counters = self._router.counters
        detail_xml = event.detail.xml if event.detail is not None else ""
        if self._deliver_to is None or kind_of(event.type, detail_xml) not in self.remote.inbound.kinds:
            counters.inc("federation_dropped{reason=policy}")
            return None
        if event.stale < now_ms:
            counters.inc("federation_dropped{reason=stale}")
            return None
        key = (f"{event.uid}>{uid}", event.time)  # one event sent to each of several devices
        if key in self._seen:
            counters.inc("federation_duplicate")
            return None
        self._seen[key] = None
        if len(self._seen) > self._limit:
            self._seen.popitem(last=False)
        counters.inc("federation_received")
        return bool(self._deliver_to(uid, event, crossing=f"{self.remote.site}:{event.uid}:{event.time}"))

    def _stand_in(self, origin: RemoteSender, groups: frozenset[str], now_ms: int) -> Subscriber:
        """The stand-in of ``origin``'s connection, brought up to date (a restarted remote numbers
        its connections afresh, so one key may name a new sender)."""
        stand_in = self._stand_ins.get(origin.connection)
        if stand_in is None:
            if len(self._stand_ins) >= MAX_STAND_INS:
                self._stand_ins.popitem(last=False)
            stand_in = Subscriber(
                _ignore,
                transport=FEDERATION_TRANSPORT,
                address=self.remote.site,
                receives=False,
                binds=False,
                now_ms=now_ms,
            )
            self._stand_ins[origin.connection] = stand_in
        else:
            self._stand_ins.move_to_end(origin.connection)
        site = self.remote.site
        stand_in.pending.clear()  # answers the mailbox gave it (b-t-f-p): nobody here to read them
        stand_in.in_groups = groups
        stand_in.identity = f"{origin.identity}@{site}" if origin.identity else None
        stand_in.uid, stand_in.callsign, stand_in.team = origin.uid, origin.callsign, origin.team
        return stand_in

    def _learn_device(self, origin: RemoteSender, groups: frozenset[str], event: Event, now_ms: int) -> None:
        """A remote device's own position report: it is connected, at the remote site."""
        if origin.uid is None or origin.uid != event.uid or not event.is_situational_awareness:
            return
        router = self._router
        if router.registry.by_uid(origin.uid) is not None:
            return  # connected here too: the local connection is what counts
        site = self.remote.site
        known = router.devices.get(origin.uid)
        if known is None or not known.connected or known.node != site or known.callsign != origin.callsign:
            router.devices.bound(origin.uid, origin.callsign, origin.team, groups, now_ms, node=site)

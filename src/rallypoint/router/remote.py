"""Events routed on another node of a cluster, routed again here to this node's clients only.

In cluster mode (``rallypoint.cluster``) every event a node's router accepts crosses the bus
once, with who sent it: its node, its connection there, identity, device uid, callsign, team
and groups. Each other node hands it to :class:`Peers`, which routes it as its sender would
have been routed had it been connected here: same group reachability, same ``marti/dest`` and
chat rules, same cache and alert bookkeeping, so the picture a late joiner gets is the
cluster's. What the origin already did is not done twice: it checked ownership, answered
the sender, kept mail for absent devices, recorded the event in the shared store and told
its observers. Nothing here is published again, so an event never echoes.

A remote sender is a :class:`Subscriber` that receives nothing and sits in no index of the
registry (a local directed message never lands on it); one stands for each remote
connection, so the cache's and the alerts' "who sent it" stay stable across its events.
Sans-I/O like the router: the bus adapter decodes, this module routes.
"""

import uuid
from collections import OrderedDict
from typing import NamedTuple

from rallypoint.cot import control, types
from rallypoint.cot.event import Event
from rallypoint.router.alerts import is_cancel
from rallypoint.router.message import Outbound
from rallypoint.router.registry import Subscriber
from rallypoint.router.router import DEFAULT_DEPARTED_TYPE, Router

MAX_REMOTE_SENDERS = 100_000
"""Remote connections remembered; past it the one heard from longest ago is forgotten."""

PEER_TRANSPORT = "peer"
"""``Subscriber.transport`` of a sender connected to another node."""


class RemoteSender(NamedTuple):
    """Who sent an event on another node, as the bus carries it."""

    node: str
    connection: int
    """The sender's connection id on its node (stable for as long as it is connected)."""
    identity: str | None
    uid: str | None
    callsign: str | None
    team: str | None
    in_groups: frozenset[str]
    out_groups: frozenset[str]


def describe_sender(subscriber: Subscriber, node: str) -> RemoteSender:
    """What the bus says about a local ``subscriber`` sending through node ``node``."""
    return RemoteSender(
        node,
        subscriber.id,
        subscriber.identity,
        subscriber.uid,
        subscriber.callsign,
        subscriber.team,
        subscriber.in_groups,
        subscriber.out_groups,
    )


def _ignore() -> None:
    """A remote sender is never woken: it receives nothing here."""


class Peers:
    """Routes remote events into one local router (see the module docstring)."""

    def __init__(self, router: Router, limit: int = MAX_REMOTE_SENDERS) -> None:
        self._router = router
        self._limit = limit
        self._senders: OrderedDict[tuple[str, int], Subscriber] = OrderedDict()

    def __len__(self) -> int:
        return len(self._senders)

    def _proxy(self, origin: RemoteSender, now_ms: int) -> Subscriber:
        """The stand-in of ``origin``'s connection, brought up to date: a restarted node numbers its
        connections afresh, so one key may name a new connection with another identity."""
        key = (origin.node, origin.connection)
        proxy = self._senders.get(key)
        if proxy is None:
            if len(self._senders) >= self._limit:
                self._senders.popitem(last=False)
            proxy = Subscriber(
                _ignore,
                transport=PEER_TRANSPORT,
                address=origin.node,
                in_groups=origin.in_groups,
                identity=origin.identity,
                owner=origin.identity,
                receives=False,
                binds=False,
                now_ms=now_ms,
            )
            self._senders[key] = proxy
        else:
            self._senders.move_to_end(key)
        proxy.in_groups, proxy.identity, proxy.owner = origin.in_groups, origin.identity, origin.identity
        proxy.uid, proxy.callsign, proxy.team = origin.uid, origin.callsign, origin.team
        proxy.last_seen = now_ms
        return proxy

    def route(self, origin: RemoteSender, event: Event, original_xml: bytes | None, now_ms: int) -> int:
        """Deliver an event another node routed to the clients of this node it reaches; how many."""
        router = self._router
        proxy = self._proxy(origin, now_ms)
        if router.ownership.admit(proxy.owner, event) is not None:
            router.counters.inc("peer_spoofing_refused")  # two nodes admitted rival claims at once
            return 0
        self._learn_device(origin, proxy, event, now_ms)
        if event.type == types.DELETE and not router._apply_delete(proxy, event):
            return 0
        if is_cancel(event) and router._refuse_cancel(proxy, event, now_ms):
            return 0
        detail = event.detail
        directed = detail is not None and bool(detail.dests)
        keep_original = detail is None or not detail.has_marti
        message = Outbound(
            event,
            original_xml if keep_original else None,
            directed=directed,
            replace_key=event.uid if event.is_situational_awareness else None,
            returnable=directed,
        )
        delivered = 0
        for receiver in router.addressing.recipients(proxy, event, now_ms):
            if directed and receiver.held is not None:
                receiver.held.append(message)
            else:
                receiver.deliver(message)
            delivered += 1
        router._remember(proxy, message, now_ms)
        router.counters.inc("peer_delivered", delivered)
        return delivered

    def departed(self, origin: RemoteSender, event: Event, now_ms: int) -> int:
        """A device left its node (the origin's ``t-x-d-d``): tell the clients here, forget it."""
        proxy = self._senders.pop((origin.node, origin.connection), None)
        return self._gone(
            origin.node, uid=origin.uid, groups=origin.in_groups, proxy=proxy, delete=event, now_ms=now_ms
        )

    def node_lost(self, node: str, now_ms: int) -> int:
        """``node`` went silent (killed, cut off): its devices left, as their own node would have said.

        Their deletes go to the clients here, and directed messages for them are kept in the
        mailbox from now on, for whichever node they reconnect to. Returns the devices dropped.
        """
        lost = [key for key in self._senders if key[0] == node]
        devices = 0
        for key in lost:
            proxy = self._senders.pop(key)
            if proxy.uid is None:
                continue
            delete = control.disconnect_delete(
                str(uuid.uuid4()), now_ms, proxy.uid, proxy.last_type or DEFAULT_DEPARTED_TYPE
            )
            self._gone(node, uid=proxy.uid, groups=proxy.in_groups, proxy=proxy, delete=delete, now_ms=now_ms)
            devices += 1
        return devices

    def _gone(
        self,
        node: str,
        *,
        uid: str | None,
        groups: frozenset[str],
        proxy: Subscriber | None,
        delete: Event,
        now_ms: int,
    ) -> int:
        router = self._router
        message = Outbound(delete)
        receivers = router.registry.reachable_from(groups)
        for receiver in receivers:
            receiver.deliver(message)
        if uid is None:
            return len(receivers)
        entry = router.cache.get(uid)
        if proxy is not None and entry is not None and entry.sender_id == proxy.id:
            router.cache.remove(uid)
        device = router.devices.get(uid)
        if device is not None and device.node == node:
            router.devices.departed(uid, now_ms)
        return len(receivers)

    def _learn_device(self, origin: RemoteSender, proxy: Subscriber, event: Event, now_ms: int) -> None:
        """A remote device's own position report: it is connected, on ``origin.node``."""
        if origin.uid is None or origin.uid != event.uid or not event.is_situational_awareness:
            return
        proxy.last_type = event.type  # what its delete says it was, should its node go silent
        if self._router.registry.by_uid(origin.uid) is not None:
            return  # connected here too: the local connection is what counts
        known = self._router.devices.get(origin.uid)
        if (
            known is None
            or not known.connected
            or known.node != origin.node
            or known.callsign != origin.callsign
            or known.team != origin.team
        ):
            self._router.devices.bound(
                origin.uid, origin.callsign, origin.team, origin.out_groups, now_ms, node=origin.node
            )

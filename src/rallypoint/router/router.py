"""The router: takes each event from a connected client and hands it to its recipients (reference §5).

Who the recipients are is :mod:`rallypoint.router.addressing`'s to say (groups, ``marti/dest``,
the GeoChat envelope). The router applies what an event means on the way: the owners of uids
and callsigns (anti-spoofing), deletes, alerts and their cancels, the situation cache, the
registry of connected clients and known devices, store-and-forward for offline recipients. It
does no I/O: refusals worth an audit entry go to ``refusals.on_denial``.
"""

import logging
import uuid
from collections.abc import Callable
from collections.abc import Set as AbstractSet

from rallypoint.cot import control, types
from rallypoint.cot.event import Event
from rallypoint.cot.xml import is_frame_safe, quotes_event_tag
from rallypoint.router.addressing import Addressing
from rallypoint.router.alerts import AlertBoard, is_cancel, sender_key
from rallypoint.router.cache import CacheEntry, SituationCache
from rallypoint.router.devices import DeviceRegister
from rallypoint.router.injection import InjectionTable
from rallypoint.router.message import Outbound
from rallypoint.router.ownership import OwnershipTable
from rallypoint.router.refusals import Denial, Refusals, describe
from rallypoint.router.registry import Registry, Subscriber
from rallypoint.router.stats import Counters
from rallypoint.router.teams import TeamBook

log = logging.getLogger(__name__)

DEFAULT_DEPARTED_TYPE = "a-f-G-U-C"
"""Type written in a disconnect delete when the client never sent a position."""

LOST_DISCONNECTED = "disconnected"
LOST_STALE = "stale"
"""Why a device's position left the cache (see ``Router.on_lost``)."""


def _new_uid() -> str:
    return str(uuid.uuid4())


class Router:
    """Routes events between subscribers. No I/O: it fills their pending lists."""

    def __init__(
        self,
        *,
        cache: SituationCache | None = None,
        alerts: AlertBoard | None = None,
        counters: Counters | None = None,
        isolate_teams: bool = False,
        uid_factory: Callable[[], str] = _new_uid,
        ownership: OwnershipTable | None = None,
        on_denial: Callable[[Denial], None] | None = None,
    ) -> None:
        self.registry = Registry()
        self.cache = cache if cache is not None else SituationCache()
        self.alerts = alerts if alerts is not None else AlertBoard()
        self.counters = counters if counters is not None else Counters()
        self.teams = TeamBook(isolate_teams)
        """Opt-in (``isolate_teams``): broadcasts only within a team, each client's team recorded."""
        self._new_uid = uid_factory
        self.ownership = ownership if ownership is not None else OwnershipTable()
        self.refusals = Refusals(on_denial)
        """Refusals worth an audit entry, and which of them were reported lately."""
        self.addressing = Addressing(self.registry, self.teams, self.counters, self.refusals)
        self.recorder: Callable[[Outbound, Subscriber], None] | None = None
        """Told about every routed event after delivery (persistence); must not block or raise."""
        self.on_absent: Callable[[str, Outbound, Subscriber], bool] | None = None
        """Store-and-forward: told (recipient uid, message, sender) for each recipient of a
        directed message that is offline but allowed to receive it; True if it will be kept
        (the mailbox then answers the sender once the message is durable)."""
        self.injections = InjectionTable()
        """TAK Server's CoT injectors: applied to each event before its receivers are chosen."""
        self.devices = DeviceRegister()
        """Every known device, connected or departed (store-and-forward, missions, the API)."""
        self.on_lost: list[Callable[[CacheEntry, str, int], None]] = []
        """Told (entry, reason, now) when a device's position leaves the cache without a delete
        from the device: ``disconnected`` (its connection closed) or ``stale`` (it stopped
        reporting). The web command post keeps it as a last known position; quick, no raising."""
        self.on_bind: list[Callable[[Subscriber], None]] = []
        """Told when a connection first binds a device uid (store-and-forward delivers its mail)."""
        self.server_names: set[str] = set()
        """Uids and callsigns the server answers itself (check-ins and objective answers by chat):
        a chat directed to one reached its recipient and is not bounced as undeliverable."""
        self.observers: list[Callable[[Outbound, Subscriber], None]] = []
        """Also told about every routed event after the recorder (missions, web live feed, fusion);
        each must be quick and must not raise: it runs on the routing path."""
        self.on_publish: Callable[[Outbound, Subscriber, bool], None] | None = None
        """Cluster mode: told (message, sender, departed) about every event routed here, and every
        departure, for the other nodes (``rallypoint.router.remote``); quick, must not raise."""
        self.on_elsewhere: Callable[[Outbound, Subscriber], None] | None = None
        """Cluster mode: told, just before ``on_publish``, about a chat that only devices connected
        to other nodes receive; the bus answers its sender ``b-t-f-p`` once the stream holds it."""

    def attach(self, subscriber: Subscriber, now_ms: int) -> None:
        """Register a new connection and replay the current picture to it."""
        self.registry.add(subscriber)
        if not subscriber.receives:
            return
        for message in self.cache.visible_to(subscriber.out_groups, now_ms, skip_uid=subscriber.uid):
            subscriber.deliver(message)
            self.counters.inc("replayed")

    def regroup(
        self, subscriber: Subscriber, in_groups: frozenset[str], out_groups: frozenset[str], now_ms: int
    ) -> None:
        """Apply new groups to a connected client, and send it the picture it can now see."""
        before = subscriber.out_groups
        self.registry.regroup(subscriber, in_groups, out_groups)
        device = self.devices.get(subscriber.uid) if subscriber.uid is not None else None
        if device is not None and self.registry.by_uid(device.uid) is subscriber:
            device.groups = subscriber.out_groups
        gained = subscriber.out_groups - before
        if not gained:
            return
        for message in self.cache.visible_to(gained, now_ms, skip_uid=subscriber.uid):
            entry = self.cache.get(message.event.uid)
            if entry is not None and entry.groups.isdisjoint(before):
                subscriber.deliver(message)
                self.counters.inc("replayed")

    def detach(self, subscriber: Subscriber, now_ms: int) -> None:
        """Forget a closed connection and tell the others it left (a ``t-x-d-d`` linking to it)."""
        self.registry.remove(subscriber)
        if subscriber.owner is not None and subscriber.identity is None:
            self.ownership.release(subscriber.owner)  # an anonymous owner is this connection
        if subscriber.uid is None:
            return
        if self.registry.by_uid(subscriber.uid) is not None:
            return  # the same device is still connected another way
        if subscriber.receives:
            self.devices.departed(subscriber.uid, now_ms)
        entry = self.cache.get(subscriber.uid)
        if entry is not None and entry.sender_id == subscriber.id:
            self.cache.remove(subscriber.uid)
            for listener in self.on_lost:
                listener(entry, LOST_DISCONNECTED, now_ms)
        departed_type = subscriber.last_type or DEFAULT_DEPARTED_TYPE
        delete = control.disconnect_delete(self._new_uid(), now_ms, subscriber.uid, departed_type)
        message = Outbound(delete)
        for receiver in self.registry.reachable_from(subscriber.in_groups):
            receiver.deliver(message)
        if self.recorder is not None:
            self.recorder(message, subscriber)  # so a restart does not show it as still there
        if self.on_publish is not None:
            self.on_publish(message, subscriber, True)

    def submit(
        self,
        sender: Subscriber,
        event: Event,
        original_xml: bytes | None,
        now_ms: int,
        *,
        original_protobuf: bytes | None = None,
    ) -> int:
        """Route one event from ``sender``; return how many clients it was handed to.

        ``original_xml`` / ``original_protobuf`` are the bytes it arrived as, forwarded
        unchanged to clients of that format when nothing has to be stripped.
        """
        sender.last_seen = now_ms
        if types.is_control(event.type):
            return 0
        refusal = self.ownership.admit(sender.owner, event)
        if refusal is not None:
            self.counters.inc("spoofing_refused")
            if self.refusals.first("spoofing_refused", sender, f"{refusal.claim} {refusal.subject}", now_ms):
                log.warning(
                    "refused %s from %s: %s %r belongs to %s",
                    event.type,
                    describe(sender),
                    refusal.claim,
                    refusal.subject,
                    refusal.owner,
                )
                self.refusals.report(
                    Denial("spoofing_refused", sender, event, refusal.subject, refusal.owner)
                )
            return 0
        self._learn_sender(sender, event, now_ms)
        if event.type == types.DELETE and not self._apply_delete(sender, event):
            return 0
        if is_cancel(event) and self._refuse_cancel(sender, event, now_ms):
            return 0
        detail = event.detail
        directed = detail is not None and bool(detail.dests)
        keep_original = detail is None or not detail.has_marti
        event, original_xml, original_protobuf = self._forwardable(
            sender, event, original_xml, original_protobuf, now_ms
        )
        message = Outbound(
            event,
            original_xml if keep_original else None,
            original_protobuf=original_protobuf if keep_original else None,
            directed=directed,
            replace_key=event.uid if event.is_situational_awareness else None,
            returnable=directed,
        )
        delivered = 0
        receivers = self.addressing.recipients(sender, event, now_ms)
        for receiver in receivers:
            if receiver is not sender:
                if directed and receiver.held is not None:
                    receiver.held.append(message)  # behind its kept mail, being read
                else:
                    pending = receiver.pending
                    if not pending:
                        receiver.wake()
                    pending.append(message)
                delivered += 1
        kept = 0
        if directed:
            message.recipients = frozenset(r.identity for r in receivers if r.identity is not None)
            if self.on_absent is not None:
                kept = self._keep_for_absent(sender, message, receivers)
        answerable = directed and types.is_answerable(event.type)
        if answerable and not (delivered or kept or self._to_server(event)):
            assert detail is not None
            if not self.devices.elsewhere(detail.dests):
                self._bounce_chat(sender, event)
            elif self.on_elsewhere is not None:
                self.on_elsewhere(message, sender)
        self._remember(sender, message, now_ms)
        if self.on_publish is not None:
            self.on_publish(message, sender, False)
        self.counters.inc("delivered", delivered)
        if self.recorder is not None:
            self.recorder(message, sender)
        for observer in self.observers:
            observer(message, sender)
        return delivered

    def _forwardable(
        self, sender: Subscriber, event: Event, xml: bytes | None, protobuf: bytes | None, now_ms: int
    ) -> tuple[Event, bytes | None, bytes | None]:
        """The event with its injectors applied, and the original bytes that may still be forwarded:
        none once something was injected, or when they quote an event tag (the codec re-serialised
        the detail)."""
        if (xml is not None and not is_frame_safe(xml)) or (
            protobuf is not None and quotes_event_tag(protobuf)
        ):
            self._quoted_event_tag(sender, event, now_ms)
            xml = protobuf = None
        if self.injections.active:
            injected = self.injections.apply(event, sender.in_groups)
            if injected is not event:
                return injected, None, None
        return event, xml, protobuf

    def _refuse_cancel(self, sender: Subscriber, event: Event, now_ms: int) -> bool:
        """A cancel of an alert someone else raised is refused whole: not routed, not applied."""
        foreign = self.alerts.foreign(event, sender_key(sender), sender.id)
        if not foreign:
            return False
        self.counters.inc("alert_cancel_refused")
        if self.refusals.first("alert_cancel_refused", sender, foreign[0], now_ms):
            log.warning(
                "refused %s from %s: alert %r was raised by another", event.type, describe(sender), foreign[0]
            )
            self.refusals.report(Denial("alert_cancel_refused", sender, event, foreign[0], None))
        return True

    def _cache_put(self, sender: Subscriber, message: Outbound, now_ms: int) -> None:
        refused = self.cache.refused
        self.cache.put(message, sender.in_groups, sender.id, now_ms, sender_key(sender))
        if self.cache.refused == refused:
            return  # cached, or older than the cached one, or stale: not a refusal
        self.counters.inc("cache_refused")
        if self.refusals.first("cache_refused", sender, "", now_ms):
            log.warning(
                "%s from %s not cached: its share of the situation cache is full",
                message.event.uid,
                describe(sender),
            )

    def _quoted_event_tag(self, sender: Subscriber, event: Event, now_ms: int) -> None:
        self.counters.inc("reserialised{reason=quoted_event_tag}")
        if self.refusals.first("quoted_event_tag", sender, "", now_ms):
            log.warning(
                "%s from %s quotes an event tag: re-serialised, not forwarded as sent",
                event.uid,
                describe(sender),
            )

    def _learn_sender(self, sender: Subscriber, event: Event, now_ms: int) -> None:
        """Bind a connection to the uid and callsign of its own position reports."""
        if not (sender.binds and event.is_situational_awareness):
            return
        if sender.uid is None or sender.uid == event.uid:
            first = sender.uid is None
            self.registry.bind(sender, event.uid, event.callsign)
            if first:
                for listener in self.on_bind:
                    listener(sender)
            sender.last_type = event.type
            group = event.detail.group if event.detail else None
            if group is not None:
                self._set_team(sender, group.name, group.role, now_ms)
            if sender.receives:
                known = self.devices.get(event.uid)
                if first or known is None or known.callsign != sender.callsign or known.team != sender.team:
                    self.devices.bound(event.uid, sender.callsign, sender.team, sender.out_groups, now_ms)

    def _set_team(self, sender: Subscriber, team: str, role: str, now_ms: int) -> None:
        kept = self.teams.apply(sender, team, role)
        if kept is None:
            return
        self.counters.inc("team_change_refused")
        if self.refusals.first("team_change_refused", sender, team, now_ms):
            log.warning("%s claims team %r; it stays in %r (isolate_teams)", describe(sender), team, kept)

    def _apply_delete(self, sender: Subscriber, event: Event) -> bool:
        """Drop deleted uids from the cache. False for a delete naming nothing (pytak's hello)."""
        links = event.detail.links if event.detail else ()
        if not links:
            return False
        for link in links:
            entry = self.cache.get(link.uid)
            if entry is not None and not entry.groups.isdisjoint(sender.in_groups):
                self.cache.remove(link.uid)
        return True

    def _keep_for_absent(
        self, sender: Subscriber, message: Outbound, receivers: AbstractSet[Subscriber]
    ) -> int:
        """Hand the offline recipients of a directed message to store-and-forward; how many keep it."""
        assert self.on_absent is not None
        detail = message.event.detail
        assert detail is not None
        reached = {r.uid for r in receivers}
        kept = 0
        for dest in detail.dests:
            known = self.devices.named_by(dest)
            if known is None:
                continue
            uid = known.uid
            if uid in reached or self.registry.by_uid(uid) is not None or uid == sender.uid:
                continue
            if known.connected and known.node:
                continue  # connected to another node of the cluster, which delivers it
            if known.groups.isdisjoint(sender.in_groups):
                self.counters.inc("group_denied")
                continue
            reached.add(uid)
            kept += self.on_absent(uid, message, sender)
        return kept

    def _to_server(self, event: Event) -> bool:
        assert event.detail is not None
        names = self.server_names
        return any(dest.uid in names or dest.callsign in names for dest in event.detail.dests)

    def _bounce_chat(self, sender: Subscriber, event: Event) -> None:
        """Tell the sender its chat reached nobody and is not kept (``b-t-f-s``), as TAK clients expect."""
        self.counters.inc("chat_undeliverable{reason=unknown_recipient}")
        log.info("chat %s from %s: no such recipient, not delivered", event.uid, describe(sender))
        sender.deliver(Outbound(event._replace(type=types.CHAT_DELIVERY_FAILURE), directed=True))

    def _remember(self, sender: Subscriber, message: Outbound, now_ms: int) -> None:
        event = message.event
        cancelled = self.alerts.observe(event, sender.in_groups, sender.id, now_ms, sender_key(sender))
        if cancelled:
            for uid in cancelled:
                self.cache.remove(uid)
        elif not message.directed and types.is_cacheable(event.type):
            self._cache_put(sender, message, now_ms)

    def tick(self, now_ms: int) -> None:
        """Periodic work: expire stale cache entries and repeat active alerts."""
        removed: list[CacheEntry] = []
        expired = self.cache.expire(now_ms, removed)
        if expired:
            self.counters.inc("cache_expired", len(expired))
        for entry in removed:
            if self.on_lost and self.devices.get(entry.message.event.uid) is not None:
                for listener in self.on_lost:
                    listener(entry, LOST_STALE, now_ms)
        for alert in self.alerts.due(now_ms):
            message = Outbound(alert.event)
            self.cache.put(message, alert.groups, alert.sender_id, now_ms, alert.owner)
            for receiver in self.registry.reachable_from(alert.groups):
                if receiver.id != alert.sender_id:
                    receiver.deliver(message)
            self.counters.inc("alerts_repeated")

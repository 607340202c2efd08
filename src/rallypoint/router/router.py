"""The router: decides which connected clients receive each event (reference §5).

Reachability is by server-side groups: a message from S reaches R when some group S sends
into is one R receives from. ``marti/dest`` narrows delivery to named clients, GeoChat
without ``marti`` falls back on its chat envelope, and everything else is broadcast to
every reachable client except the sender. The router also keeps the situation cache,
the active alerts, the registry of connected clients and the owners of uids and callsigns
(anti-spoofing). It does no I/O: refusals worth an audit entry go to ``on_denial``.
"""

import logging
import uuid
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from typing import NamedTuple

from rallypoint.cot import control, types
from rallypoint.cot.event import Event
from rallypoint.cot.xml import is_frame_safe, quotes_event_tag
from rallypoint.router.alerts import AlertBoard, is_cancel, sender_key
from rallypoint.router.cache import CacheEntry, SituationCache
from rallypoint.router.devices import DeviceRegister
from rallypoint.router.injection import InjectionTable
from rallypoint.router.message import Outbound
from rallypoint.router.ownership import OwnershipTable
from rallypoint.router.registry import Registry, Subscriber
from rallypoint.router.stats import Counters
from rallypoint.router.teams import TeamBook

log = logging.getLogger(__name__)

DEFAULT_DEPARTED_TYPE = "a-f-G-U-C"
"""Type written in a disconnect delete when the client never sent a position."""

TEAM_CHAT_PARENT = "TeamGroups"

LOST_DISCONNECTED = "disconnected"
LOST_STALE = "stale"
"""Why a device's position left the cache (see ``Router.on_lost``)."""

REPORT_INTERVAL_MS = 60_000
"""The same refusal (kind, sender, subject) is logged and reported once a minute; counters see all.
A misconfigured device repeating a refused event every few seconds must not fill the logs."""

MAX_REPORTED = 10_000
"""Refusals remembered for :data:`REPORT_INTERVAL_MS`; past it the memory starts afresh."""


class Denial(NamedTuple):
    """An event (or part of one) the router refused, for the audit log."""

    kind: str
    """``spoofing_refused``, ``group_denied`` or ``alert_cancel_refused``."""
    sender: Subscriber
    event: Event
    subject: str
    """The uid or callsign claimed, or the recipient or group addressed."""
    other: str | None
    """The rightful owner, or the identity of the recipient that may not be reached."""


def _new_uid() -> str:
    return str(uuid.uuid4())


def describe(subscriber: Subscriber) -> str:
    """Who a subscriber is, for log lines and audit entries: its identity, or its address."""
    if subscriber.identity is not None:
        return subscriber.identity
    return f"anonymous {subscriber.transport} {subscriber.address}".rstrip()


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
        self.on_denial = on_denial
        """Told about refused events (once per :data:`REPORT_INTERVAL_MS` for repeats)."""
        self._reported: dict[tuple[str, int, str], int] = {}
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
            if self._first_report("spoofing_refused", sender, f"{refusal.claim} {refusal.subject}", now_ms):
                log.warning(
                    "refused %s from %s: %s %r belongs to %s",
                    event.type,
                    describe(sender),
                    refusal.claim,
                    refusal.subject,
                    refusal.owner,
                )
                self._report(Denial("spoofing_refused", sender, event, refusal.subject, refusal.owner))
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
        receivers = self._recipients(sender, event, now_ms)
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
        if self._first_report("alert_cancel_refused", sender, foreign[0], now_ms):
            log.warning(
                "refused %s from %s: alert %r was raised by another", event.type, describe(sender), foreign[0]
            )
            self._report(Denial("alert_cancel_refused", sender, event, foreign[0], None))
        return True

    def _cache_put(self, sender: Subscriber, message: Outbound, now_ms: int) -> None:
        refused = self.cache.refused
        self.cache.put(message, sender.in_groups, sender.id, now_ms, sender_key(sender))
        if self.cache.refused == refused:
            return  # cached, or older than the cached one, or stale: not a refusal
        self.counters.inc("cache_refused")
        if self._first_report("cache_refused", sender, "", now_ms):
            log.warning(
                "%s from %s not cached: its share of the situation cache is full",
                message.event.uid,
                describe(sender),
            )

    def _quoted_event_tag(self, sender: Subscriber, event: Event, now_ms: int) -> None:
        self.counters.inc("reserialised{reason=quoted_event_tag}")
        if self._first_report("quoted_event_tag", sender, "", now_ms):
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
        if self._first_report("team_change_refused", sender, team, now_ms):
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

    def _recipients(self, sender: Subscriber, event: Event, now_ms: int) -> AbstractSet[Subscriber]:
        reachable = self.registry.reachable_from(sender.in_groups)
        detail = event.detail
        if detail is not None and detail.dests:
            return self._directed(sender, event, reachable, now_ms)
        if detail is not None and detail.chat is not None and not detail.has_marti:
            return self._chat_fallback(sender, event, reachable)
        if self.teams.isolate and sender.team is not None:
            return {sub for sub in reachable if sub.team == sender.team}
        return reachable  # the caller skips the sender

    def _directed(
        self, sender: Subscriber, event: Event, reachable: AbstractSet[Subscriber], now_ms: int
    ) -> set[Subscriber]:
        targets: set[Subscriber] = set()
        assert event.detail is not None
        for dest in event.detail.dests:
            if dest.callsign == types.ALL_STREAMING:
                targets |= reachable
            elif dest.callsign:
                targets |= self.registry.by_callsign(dest.callsign)
            if dest.uid:
                bound = self.registry.by_uid(dest.uid)
                if bound is not None:
                    targets.add(bound)
            if dest.group:
                if dest.group in sender.in_groups:
                    targets |= self.registry.members(dest.group)
                else:
                    self.counters.inc("dropped{reason=illegal_group}")
                    if self._first_report("group_denied", sender, dest.group, now_ms):
                        log.warning("%r addressed group %r it does not belong to", sender, dest.group)
                        self._report(Denial("group_denied", sender, event, dest.group, None))
            if dest.mission or dest.mission_guid:
                self.counters.inc("dest_mission")  # the missions service adds and forwards it (observer)
        targets.discard(sender)
        for denied in [target for target in targets if target not in reachable]:
            self._deny_recipient(sender, event, denied, now_ms)
            targets.discard(denied)
        return targets

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

    def _deny_recipient(self, sender: Subscriber, event: Event, recipient: Subscriber, now_ms: int) -> None:
        """A directed message named a connected client outside the sender's groups: not delivered."""
        self.counters.inc("group_denied")
        name = describe(recipient)
        if self._first_report("group_denied", sender, name, now_ms):
            log.warning(
                "%s addressed %s (%s) outside its groups: not delivered",
                describe(sender),
                recipient.callsign or recipient.uid,
                name,
            )
            self._report(
                Denial("group_denied", sender, event, recipient.callsign or recipient.uid or "", name)
            )

    def _first_report(self, kind: str, sender: Subscriber, subject: str, now_ms: int) -> bool:
        """True unless the same refusal was reported less than :data:`REPORT_INTERVAL_MS` ago."""
        key = (kind, sender.id, subject)
        last = self._reported.get(key)
        if last is not None and now_ms - last < REPORT_INTERVAL_MS:
            return False
        if len(self._reported) >= MAX_REPORTED:
            self._reported.clear()
        self._reported[key] = now_ms
        return True

    def _report(self, denial: Denial) -> None:
        if self.on_denial is not None:
            self.on_denial(denial)

    def _chat_fallback(
        self, sender: Subscriber, event: Event, reachable: AbstractSet[Subscriber]
    ) -> set[Subscriber]:
        """GeoChat from clients that add no ``marti``: route by the chat envelope (taky's rule)."""
        assert event.detail is not None
        assert event.detail.chat is not None
        chat = event.detail.chat
        if chat.chatroom == types.ALL_CHAT_ROOMS:
            return {sub for sub in reachable if sub is not sender}
        if chat.parent == TEAM_CHAT_PARENT:
            team = sender.team if self.teams.isolate else chat.chatroom  # isolated: its own team only
            return {sub for sub in reachable if sub.team == team and sub is not sender}
        recipient = self.registry.by_uid(chat.chat_id)
        if recipient is not None and recipient in reachable and recipient is not sender:
            return {recipient}
        return {sub for sub in reachable if sub is not sender}

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

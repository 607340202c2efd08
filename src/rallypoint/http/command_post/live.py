"""The live feed of the web command post: routed events as JSON messages on each page's socket.

Each user with an open page is, to the router, one more receiving client: a
:class:`~rallypoint.router.registry.Subscriber` with uid ``web-<user>``, the user name as
callsign and the user's groups both ways. The router therefore decides what a page sees
exactly as it decides for a TAK client of that user (groups, ``marti/dest``, GeoChat
envelopes, disconnects, alert repeats), and TAK clients can address the user directly.
What it delivers is turned into the contract's messages here, off the routing path: the
router only appends to the subscriber's pending list and wakes the hub once per loop turn.

Position reports are coalesced per uid and sent every :data:`COALESCE_S`; chats, alerts and
removals go out at once. Every socket has a bounded queue of encoded messages
(:attr:`LiveHub.queue_max`): a browser that stops reading overflows it and is disconnected
(:data:`CLOSE_TOO_SLOW`) instead of holding memory or slowing anyone else.
"""

import asyncio
import json
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from rallypoint.cot import types
from rallypoint.cot.event import Event
from rallypoint.http.command_post.auth import WEB_TRANSPORT, Session
from rallypoint.http.command_post.chat import ChatMessage, chat_json
from rallypoint.http.command_post.contacts import alert_json, contact_json, is_contact_type, visible_contacts
from rallypoint.http.command_post.lost import LostBoard, LostUnit
from rallypoint.http.command_post.lost_records import LostKeeper
from rallypoint.router.alerts import is_cancel
from rallypoint.router.cache import CacheEntry
from rallypoint.router.message import Outbound
from rallypoint.router.registry import Subscriber
from rallypoint.router.router import Router
from rallypoint.router.stats import Counters
from rallypoint.store.base import LostRecord

log = logging.getLogger(__name__)

COALESCE_S = 0.2
"""Position reports of one uid reach a page at most this often (the contract's 200 ms)."""
STALE_CHECK_S = 1.0
DEFAULT_QUEUE_MAX = 2000
"""Messages waiting for one socket at most: a page that falls this far behind is closed."""
MAX_TRACKED_UIDS = 100_000
"""Contacts one page is known to show (for stale removal); as many as the situation cache holds."""
MAX_ACKNOWLEDGED = 1000
"""Alerts remembered as acknowledged per user."""
CLOSE_UNAUTHENTICATED = 4401
CLOSE_ORIGIN = 4403
CLOSE_TOO_SLOW = 4408
CLOSE_SHUTDOWN = 1001
CLOSE_UNSUPPORTED = 1003
CLOSE_BAD_DATA = 1007

Message = dict[str, Any]


class LiveSocket:
    """One open page: a bounded queue of encoded messages and, once set, why it must close."""

    def __init__(self, session: Session, limit: int) -> None:
        self.session = session
        self.limit = limit
        self.queue: deque[str] = deque()
        self.ready = asyncio.Event()
        self.closing = asyncio.Event()
        """Set with :attr:`close_code`: the writer may be stuck behind a browser that stopped reading."""
        self.close_code: int | None = None

    def offer(self, text: str) -> bool:
        """Queue ``text``; False (and the socket marked too slow) when the queue is full."""
        if self.close_code is not None:
            return False
        if len(self.queue) >= self.limit:
            self.close(CLOSE_TOO_SLOW)
            return False
        self.queue.append(text)
        self.ready.set()
        return True

    def close(self, code: int) -> None:
        """Ask the socket's writer to stop with ``code`` (the first reason given wins)."""
        if self.close_code is None:
            self.close_code = code
        self.ready.set()
        self.closing.set()

    async def next(self) -> str | None:
        """The next message to write, or None once the socket must close."""
        while not self.queue:
            if self.close_code is not None:
                return None
            self.ready.clear()
            await self.ready.wait()
        if self.close_code is not None:
            return None
        return self.queue.popleft()


class _Viewer:
    """One user's pages: the router subscriber they share and what they were last sent."""

    def __init__(self, hub: "LiveHub", session: Session) -> None:
        self.user = session.user
        self.groups = session.groups
        self.uid = session.uid
        self.sockets: set[LiveSocket] = set()
        self.shown: dict[str, int] = {}
        """Contacts sent to the pages, with their stale time."""
        self.pending: dict[str, Event] = {}
        """The latest position of each uid waiting for the next coalescing flush."""
        self.alerts: dict[str, Event] = {}
        self.scheduled = False
        self.subscriber = Subscriber(
            lambda: hub.wake(self),
            transport=WEB_TRANSPORT,
            in_groups=self.groups,
            out_groups=self.groups,
            identity=self.user,
            binds=False,
        )

    def publish(self, message: Message) -> None:
        self.publish_text(json.dumps(message, separators=(",", ":")))

    def publish_text(self, text: str) -> None:
        for socket in list(self.sockets):
            socket.offer(text)

    def remember(self, uid: str, stale: int) -> None:
        if uid in self.shown or len(self.shown) < MAX_TRACKED_UIDS:
            self.shown[uid] = stale


class LiveHub:
    """Every open page, fed from the router; owns the coalescing task."""

    def __init__(
        self,
        router: Router,
        counters: Counters,
        now_ms: Callable[[], int],
        queue_max: int = DEFAULT_QUEUE_MAX,
        keeper: LostKeeper | None = None,
    ) -> None:
        self.router = router
        self.keeper = keeper
        """Keeps :attr:`lost` in the store across restarts (None: in memory only)."""
        self.counters = counters
        self.now_ms = now_ms
        self.queue_max = queue_max
        self._viewers: dict[str, _Viewer] = {}
        self._acknowledged: dict[str, set[str]] = {}
        self._next_stale_check_ms = 0
        self.lost = LostBoard()
        """Units whose contact was lost, kept on the pages as last known positions."""
        router.on_lost.append(self._lose)

    @property
    def socket_count(self) -> int:
        """Open sockets (for metrics and tests)."""
        return sum(len(viewer.sockets) for viewer in self._viewers.values())

    def tick(self, now_ms: int) -> int:
        """Send the coalesced reports, drop stale contacts every :data:`STALE_CHECK_S`; return
        when the next flush is due (the server's timer calls this, see ``WebService.tick``)."""
        self.flush()
        if now_ms >= self._next_stale_check_ms:
            self._next_stale_check_ms = now_ms + round(STALE_CHECK_S * 1000)
            self.expire(now_ms)
        return now_ms + round(COALESCE_S * 1000)

    async def stop(self) -> None:
        """Close every socket (the pages reconnect to the next server)."""
        for viewer in list(self._viewers.values()):
            for socket in list(viewer.sockets):
                socket.close(CLOSE_SHUTDOWN)

    def attach(self, session: Session, chat: list[ChatMessage] | None = None) -> LiveSocket:
        """A new page of ``session``'s user; its first message, the snapshot (with the recent
        ``chat``), is already queued."""
        viewer = self._viewers.get(session.user)
        if viewer is None or viewer.groups != session.groups:
            if viewer is not None:
                self._retire(viewer)
            viewer = _Viewer(self, session)
            self._viewers[session.user] = viewer
            registry = self.router.registry
            registry.add(viewer.subscriber)
            registry.bind(viewer.subscriber, viewer.uid, viewer.user)
            for listener in self.router.on_bind:
                listener(viewer.subscriber)  # store-and-forward mail for web-<user>
        socket = LiveSocket(session, self.queue_max)
        viewer.sockets.add(socket)
        session.closers.append(lambda: socket.close(CLOSE_UNAUTHENTICATED))
        snapshot = {**self._snapshot(viewer), "chat": chat or []}
        socket.offer(json.dumps(snapshot, separators=(",", ":")))
        self.counters.inc("web_live_opened")
        return socket

    def detach(self, socket: LiveSocket) -> None:
        """A page closed; the user's subscriber leaves the router with their last page."""
        viewer = self._viewers.get(socket.session.user)
        if viewer is None or socket not in viewer.sockets:
            return
        viewer.sockets.discard(socket)
        if socket.close_code == CLOSE_TOO_SLOW:
            self.counters.inc("web_live_closed{reason=slow}")
        if not viewer.sockets:
            self._retire(viewer)

    def _retire(self, viewer: _Viewer) -> None:
        for socket in viewer.sockets:
            socket.close(CLOSE_UNAUTHENTICATED)
        self.router.registry.remove(viewer.subscriber)
        if self._viewers.get(viewer.user) is viewer:
            del self._viewers[viewer.user]

    def publish_chat(self, user: str, message: ChatMessage) -> None:
        """Show a chat the user sent on all of the user's pages (the router does not echo it)."""
        viewer = self._viewers.get(user)
        if viewer is not None:
            viewer.publish({"type": "chat", "message": message})

    def acknowledge(self, user: str, uid: str, groups: frozenset[str]) -> Event | None:
        """Hide an alert from ``user``'s pages: the emergency (or the lost unit's last report)
        acknowledged, or None if no such alert is visible to ``groups``."""
        viewer = self._viewers.get(user)
        event = viewer.alerts.get(uid) if viewer else None
        entry = self.router.cache.get(uid)
        if event is None and entry is not None and not entry.groups.isdisjoint(groups):
            event = entry.message.event if types.is_emergency(entry.message.event.type) else None
        lost = self.lost.get(uid) if event is None else None
        if lost is not None and lost.alerted and lost.visible_to(groups):
            event = lost.event
        if event is None:
            return None
        seen = self._acknowledged.setdefault(user, set())
        if len(seen) >= MAX_ACKNOWLEDGED:
            seen.clear()
        seen.add(uid)
        if viewer is not None:
            alert = lost.alert() if lost is not None else alert_json(event)
            viewer.publish({"type": "alert", "alert": {**alert, "acknowledged": True}})
        return event

    def relay(self, groups: frozenset[str], message: Message) -> None:
        """A missions-service change: to every page whose user shares one of ``groups``."""
        text: str | None = None
        for viewer in self._viewers.values():
            if not viewer.groups.isdisjoint(groups):
                text = text or json.dumps(message, separators=(",", ":"))
                viewer.publish_text(text)

    def wake(self, viewer: _Viewer) -> None:
        """The router queued something for ``viewer``: drain it on the next loop turn."""
        if not viewer.scheduled:
            viewer.scheduled = True
            asyncio.get_running_loop().call_soon(self._drain, viewer)

    def _snapshot(self, viewer: _Viewer) -> Message:
        now = self.now_ms()
        contacts = visible_contacts(self.router.cache, viewer.groups, now)
        for contact in contacts:
            viewer.remember(contact["uid"], contact["stale"])
        acknowledged = self._acknowledged.get(viewer.user, set())
        alerts = []
        for message in self.router.cache.visible_to(viewer.groups, now):
            event = message.event
            if types.is_emergency(event.type):
                viewer.alerts[event.uid] = event
                if event.uid not in acknowledged:
                    alerts.append(alert_json(event))
        for unit in self.lost.visible_to(viewer.groups):
            contacts.append(unit.contact())
            if unit.alerted and unit.event.uid not in acknowledged:
                alerts.append(unit.alert())
        return {"type": "snapshot", "contacts": contacts, "alerts": alerts}

    def _drain(self, viewer: _Viewer) -> None:
        viewer.scheduled = False
        pending, viewer.subscriber.pending = viewer.subscriber.pending, []
        for message in pending:
            self._take(viewer, message)

    def _take(self, viewer: _Viewer, message: Outbound) -> None:
        event = message.event
        if event.type == types.DELETE:
            for link in event.detail.links if event.detail else ():
                viewer.pending.pop(link.uid, None)
                if self._shows_lost(viewer, link.uid):
                    continue  # a disconnect: the page keeps it as lost (see _lose)
                if viewer.shown.pop(link.uid, None) is not None:
                    viewer.publish({"type": "remove", "uid": link.uid})
        elif is_cancel(event):
            self._cancel(viewer, event)
        elif types.is_emergency(event.type):
            if event.uid not in viewer.alerts:
                viewer.alerts[event.uid] = event
                if event.uid not in self._acknowledged.get(viewer.user, ()):
                    viewer.publish({"type": "alert", "alert": alert_json(event)})
        elif event.type == types.CHAT:
            chat = chat_json(event)
            if chat is not None and chat["from_uid"] != viewer.uid:
                viewer.publish({"type": "chat", "message": chat})
        elif is_contact_type(event.type):
            viewer.pending[event.uid] = event
            self._found(event)

    def _shows_lost(self, viewer: _Viewer, uid: str) -> bool:
        unit = self.lost.get(uid)
        return unit is not None and unit.visible_to(viewer.groups)

    def _lose(self, entry: CacheEntry, reason: str, now_ms: int) -> None:
        """The router let a device's position go: show it as lost on the pages that saw it."""
        event = entry.message.event
        if not is_contact_type(event.type):
            return
        unit = self.lost.lose(event, entry.groups, reason, now_ms)
        if self.keeper is not None:
            self.keeper.keep(LostRecord(event.uid, now_ms, reason, entry.groups, entry.message.xml))
        for viewer in self._viewers.values():
            if unit.visible_to(viewer.groups):
                viewer.pending.pop(event.uid, None)
                viewer.shown.pop(event.uid, None)
        self._to_viewers_of(unit, {"type": "contact", "contact": unit.contact()})
        self.counters.inc(f"web_units_lost{{reason={reason}}}")

    def _found(self, event: Event) -> None:
        """A newer report of a lost unit: it is back (its report clears the lost mark)."""
        unit = self.lost.get(event.uid)
        if unit is None or event.time < unit.event.time:
            return
        self.lost.found(event.uid)
        if self.keeper is not None:
            self.keeper.forget(event.uid)
        if unit.alerted:
            self._to_viewers_of(unit, {"type": "alert", "alert": unit.alert(active=False)})

    def _to_viewers_of(self, unit: LostUnit, message: Message) -> None:
        text = json.dumps(message, separators=(",", ":"))
        for viewer in self._viewers.values():
            if unit.visible_to(viewer.groups):
                viewer.publish_text(text)

    def _cancel(self, viewer: _Viewer, event: Event) -> None:
        linked = {link.uid for link in event.detail.links} if event.detail else set()
        for uid, alert in list(viewer.alerts.items()):
            origin = {link.uid for link in alert.detail.links} if alert.detail else set()
            if uid == event.uid or not linked.isdisjoint(origin):
                del viewer.alerts[uid]
                viewer.publish({"type": "alert", "alert": alert_json(alert, active=False)})

    def flush(self) -> None:
        """Send every coalesced position report (one JSON encoding per event for all pages)."""
        encoded: dict[int, str] = {}
        for viewer in self._viewers.values():
            pending, viewer.pending = viewer.pending, {}
            for event in pending.values():
                text = encoded.get(id(event))
                if text is None:
                    message = {"type": "contact", "contact": contact_json(event)}
                    text = encoded[id(event)] = json.dumps(message, separators=(",", ":"))
                viewer.remember(event.uid, event.stale)
                viewer.publish_text(text)

    def expire(self, now_ms: int) -> None:
        """Tell pages about contacts that went stale (a lost unit stays, and is alerted once
        its last report is stale), and about lost units kept long enough."""
        for viewer in self._viewers.values():
            stale = [uid for uid, until in viewer.shown.items() if until <= now_ms]
            for uid in stale:
                del viewer.shown[uid]
                if not self._shows_lost(viewer, uid):
                    viewer.publish({"type": "remove", "uid": uid})
        gone_stale, forgotten = self.lost.tick(now_ms)
        for unit in gone_stale:
            alert = {"type": "alert", "alert": unit.alert()}
            for viewer in self._viewers.values():
                acknowledged = self._acknowledged.get(viewer.user, ())
                if unit.visible_to(viewer.groups) and unit.event.uid not in acknowledged:
                    viewer.publish(alert)
        for unit in forgotten:
            if self.keeper is not None:
                self.keeper.forget(unit.event.uid)
            self._to_viewers_of(unit, {"type": "remove", "uid": unit.event.uid})

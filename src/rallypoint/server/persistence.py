"""The server's use of the store: record routed events, rebuild the cache at start, purge old history.

Recording is on the router's hot path, so :class:`EventRecorder` only builds a tuple and
appends it to the store's queue; a full queue costs a counter, never a wait. At start the
situation cache is refilled from the latest stored event of every uid, minus what a later
delete removed and what the cache would not have kept, so clients reconnecting after a
restart see the same picture. Retention runs from the server's tick, once an hour, as a
task of its own so a long ``DELETE`` never holds the tick.
"""

import asyncio
import logging
import time

from rallypoint.cot import types
from rallypoint.cot.event import Event
from rallypoint.cot.xml import XmlLimits, parse_event
from rallypoint.errors import ProtocolError, StoreError
from rallypoint.router.injection import Injection
from rallypoint.router.message import Outbound
from rallypoint.router.registry import Subscriber
from rallypoint.router.router import Router
from rallypoint.router.stats import Counters
from rallypoint.store.base import EventQuery, EventStore, SettingStore, StoredEvent

log = logging.getLogger(__name__)

DROP_LOG_INTERVAL_S = 60.0
"""A store that cannot keep up is reported once a minute; ``store_dropped`` counts every event."""

PURGE_INTERVAL_S = 3600.0
"""Retention is in days: checking hourly keeps at most an hour's extra history."""

MAX_REBUILD_DELETES = 100_000
"""Deletes read back at start (those of the last cache lifetime); far above real traffic."""

RESTORED_SENDER_ID = 0
"""Sender id of restored cache entries: no connection has it (ids start at 1)."""

DAY_MS = 86_400_000


class EventRecorder:
    """The router's ``recorder``: one routed event becomes one queued :class:`StoredEvent`.

    A directed message (``marti/dest``) is stored with no groups but with the identities it
    was handed to: it went to named clients only, and every reader of the store filters by
    groups (plus, for history, the reader's own identity as sender or recipient), so storing
    the sender's groups would show it to the whole group later.
    """

    def __init__(self, store: EventStore, counters: Counters) -> None:
        self._store = store
        self._counters = counters
        self._last_log = -DROP_LOG_INTERVAL_S

    def __call__(self, message: Outbound, sender: Subscriber) -> None:
        event = message.event
        point = event.point
        stored = StoredEvent(
            event.uid,
            event.type,
            event.time,
            event.stale,
            point.lat,
            point.lon,
            point.hae,
            frozenset() if message.directed else sender.in_groups,
            sender.identity,
            message.xml,
            message.recipients,
            sender.crossing,
        )
        if not self._store.record(stored):
            self._counters.inc("store_dropped")
            now = time.monotonic()
            if now - self._last_log >= DROP_LOG_INTERVAL_S:
                self._last_log = now
                log.warning(
                    "store queue full (%d waiting): routed events are not being stored", self._store.lag()
                )


async def rebuild_cache(router: Router, store: EventStore, now_ms: int, limits: XmlLimits) -> int:
    """Fill the situation cache and the device register from the store; return cache entries restored.

    Every device in the stored picture is registered as departed (it binds again when it
    returns), including those whose disconnect was recorded: their mail and their names
    (an objective assigned to a callsign) must still find them. The identity that sent the
    latest event of a uid owns it again (anti-spoofing): in cluster mode a node that starts
    later knows who owns what the others' devices made, and after a restart nobody can take
    over a uid whose owner has not reconnected yet."""
    cache = router.cache
    horizon = now_ms - cache.max_ttl_ms
    deleted: dict[str, int] = {}
    for stored in await store.query_events(
        EventQuery(start=horizon, type_prefix=types.DELETE, limit=MAX_REBUILD_DELETES)
    ):
        event = _parse(stored, limits)
        for link in event.detail.links if event is not None and event.detail else ():
            deleted[link.uid] = max(deleted.get(link.uid, stored.time), stored.time)
    restored = 0
    for stored in await store.latest_events(now_ms):
        if not stored.groups or not types.is_cacheable(stored.type):
            continue
        event = _parse(stored, limits)
        if event is None:
            continue
        if stored.sender is not None:
            router.ownership.admit(stored.sender, event)
        if event.is_situational_awareness:
            group = event.detail.group if event.detail else None
            team = group.name if group is not None else None
            router.devices.restored(event.uid, event.callsign, team, stored.groups, stored.time)
        if stored.time < horizon or deleted.get(stored.uid, stored.time - 1) >= stored.time:
            continue  # departed or stale: known as a device, not shown on the map
        replace_key = event.uid if event.is_situational_awareness else None
        message = Outbound(event, stored.xml, replace_key=replace_key)
        restored += cache.put(message, stored.groups, RESTORED_SENDER_ID, now_ms)
    return restored


async def restore_injections(router: Router, store: SettingStore) -> int:
    """Put the kept CoT injectors back into the router's table (before any client connects)."""
    records = await store.injectors()
    for record in records:
        router.injections.add(Injection(*record))
    return len(records)


def _parse(stored: StoredEvent, limits: XmlLimits) -> Event | None:
    try:
        return parse_event(stored.xml, limits)
    except ProtocolError as exc:  # written by an older version, or edited by hand
        log.warning("stored event %s not restored: %s", stored.uid, exc)
        return None


class Retention:
    """Purges events older than ``retention_days``, at most once per :data:`PURGE_INTERVAL_S`."""

    def __init__(self, store: EventStore, retention_days: int) -> None:
        self._store = store
        self._retention_ms = retention_days * DAY_MS
        self._last = -PURGE_INTERVAL_S
        self._task: asyncio.Task[None] | None = None

    def tick(self, monotonic_s: float, now_ms: int) -> None:
        """Called every second by the server: start a purge when one is due."""
        if monotonic_s - self._last < PURGE_INTERVAL_S or (self._task is not None and not self._task.done()):
            return
        self._last = monotonic_s
        self._task = asyncio.create_task(
            self._purge(now_ms - self._retention_ms), name="rallypoint-retention"
        )

    async def _purge(self, cutoff_ms: int) -> None:
        try:
            removed = await self._store.purge_before(cutoff_ms)
        except StoreError as exc:
            log.error("retention purge failed: %s", exc)
            return
        if removed:
            log.info(
                "retention: %d stored events older than %d days removed",
                removed,
                self._retention_ms // DAY_MS,
            )

    async def stop(self) -> None:
        """Let a purge in progress finish (one statement; SQLite's cannot be interrupted from here)."""
        if self._task is not None:
            await self._task

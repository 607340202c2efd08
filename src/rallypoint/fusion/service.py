"""The fusion service inside ``rallypoint serve``: feeds in, fused tracks out as CoT.

It runs every configured feed under its own supervisor task, feeds their reports and the
position reports of connected clients (identity ``uid:<uid>``, source ``pli``) to one
:class:`~rallypoint.fusion.engine.FusionEngine`, and routes the fused tracks to the groups
of the feeds that saw them. Its own output is never read back: fused events carry
``<__fusion>`` and their uids are known, and both are skipped.

Aliases set through the API are appended to the ``fusion.aliases`` journal stream and
replayed at start, on top of the ``[fusion.aliases]`` of the feeds file.
"""

import asyncio
import json
import logging
import random
from collections.abc import Sequence
from dataclasses import fields
from typing import Any, NamedTuple

from rallypoint.cot.xml import XmlLimits
from rallypoint.errors import FeedError, FusionError, StoreError
from rallypoint.fusion.engine import FusionEngine
from rallypoint.fusion.feeds.adapters import PushFeed, session_for
from rallypoint.fusion.feeds.bounded import BoundedMap
from rallypoint.fusion.feeds.config import FeedConfig, FusionFileConfig
from rallypoint.fusion.feeds.cot import event_report
from rallypoint.fusion.feeds.decoded import Decoded
from rallypoint.fusion.feeds.health import FeedHealth
from rallypoint.fusion.feeds.runner import FeedRunner
from rallypoint.fusion.feeds.transports import FeedLink
from rallypoint.fusion.output import track_summary
from rallypoint.fusion.report import Report
from rallypoint.fusion.service_emit import TrackEmitter
from rallypoint.fusion.track import Track, TrackUpdate
from rallypoint.router.host import Host
from rallypoint.router.message import Outbound
from rallypoint.router.registry import Subscriber

log = logging.getLogger(__name__)

PLI_SOURCE = "pli"
"""Source name of connected clients' own position reports in the provenance."""
PLI_SIGMA_M = 10.0
"""Error assumed for a client position report without a usable ``ce`` (phone GNSS)."""
ALIAS_STREAM = "fusion.aliases"
MAX_IDENTITY_CHARS = 200
IDENTITY_NAMESPACES = ("uid:", "icao:", "mmsi:", "aprs:", "adsb:", "geojson:")
MAX_CLIENT_FRESH_MS = 600_000
"""A client's position report shows it for at most this long after it arrived, whatever its
own ``stale`` says (some clients set hours), before a fused track of it is sent instead."""


class ClientReport(NamedTuple):
    """Where a connected client's latest position report went, and until when it shows it."""

    groups: frozenset[str]
    shown_until_ms: int


class FusionService:
    """A server component (``Component`` protocol): start, tick once a second, stop."""

    def __init__(self, host: Host, config: FusionFileConfig, *, rng: random.Random | None = None) -> None:
        self.host = host
        self.config = config
        self.engine = FusionEngine(config.engine_config())
        self.feeds = {feed.name: feed for feed in config.feeds}
        self.health = {feed.name: FeedHealth(feed.name, feed.kind, host.counters) for feed in config.feeds}
        self.push_feeds = {f.name: PushFeed(f) for f in config.feeds if f.kind == "geojson"}
        self.emitter = TrackEmitter(
            self.feeds,
            host.inject,
            host.counters,
            stale_s=config.stale_s,
            min_interval_ms=int(config.min_emit_interval_s * 1000),
            client_shown=self._client_shown,
        )
        self.rng = rng if rng is not None else random.Random()
        self._limits = XmlLimits(host.settings.max_event_bytes, host.settings.max_xml_depth)
        self._tasks: list[asyncio.Task[None]] = []
        self._exported: dict[str, int] = {}
        self._clients: BoundedMap[str, ClientReport] = BoundedMap()
        """``uid:…`` identity → where its client's latest position report went, until when."""
        self._flush_handle: asyncio.TimerHandle | None = None

    # -- Component -------------------------------------------------------------------------

    async def start(self) -> None:
        """Replay stored aliases, watch client positions, start every feed's supervisor."""
        await self._replay_aliases()
        self.host.router.observers.append(self._observe)
        for feed in self.config.feeds:
            session = session_for(feed, self._limits)
            health = self.health[feed.name]
            if session is None:
                health.connected()  # a push feed is up as long as the API is
                continue
            link = FeedLink(feed, health, self.host.now_ms, self._on_reports)
            runner = FeedRunner(link, session, rng=random.Random(self.rng.random()))
            self._tasks.append(asyncio.create_task(runner.run(), name=f"rallypoint-feed-{feed.name}"))

    def tick(self, now_ms: int) -> int | None:
        """Delete silent tracks, send held updates, export the engine's counters; due again
        when the next held update is (or after the server's usual interval)."""
        for update in self.engine.tick(now_ms):
            self.emitter.offer(update, now_ms)
        self.emitter.flush(now_ms)
        self._export_counters()
        return self.emitter.next_due_ms()

    async def stop(self) -> None:
        """Stop every feed; tracks live in memory only and are rebuilt from the feeds."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        if self._observe in self.host.router.observers:
            self.host.router.observers.remove(self._observe)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        for health in self.health.values():
            health.stopped()

    # -- input -----------------------------------------------------------------------------

    def _on_reports(self, feed: FeedConfig | None, reports: Sequence[Report]) -> None:
        now = self.host.now_ms()
        self._offer(self.engine.ingest_many(reports, now), now)

    def _offer(self, updates: Sequence[TrackUpdate], now_ms: int) -> None:
        for update in updates:
            self.emitter.offer(update, now_ms)
        self._arm_flush(now_ms)

    def _arm_flush(self, now_ms: int) -> None:
        """Wake up when the earliest held update may go out, not at the server's next tick
        (up to a second later). The wake-up is a hint: :meth:`_flush` reads the host's clock
        and sends only what is due by it, and the server's tick flushes too."""
        due_ms = self.emitter.next_due_ms()
        if due_ms is None or self._flush_handle is not None:
            return
        loop = asyncio.get_running_loop()
        self._flush_handle = loop.call_later(max(0, due_ms - now_ms) / 1000, self._flush)

    def _flush(self) -> None:
        self._flush_handle = None
        now = self.host.now_ms()
        self.emitter.flush(now)
        self._arm_flush(now)

    def _client_shown(self, track: Track, now_ms: int) -> frozenset[str]:
        """Groups where one of the clients ``track`` is shows itself by a fresh position report."""
        shown = frozenset[str]()
        for identity in track.identities:
            if identity.startswith("uid:"):
                client = self._clients.get(identity)
                if client is not None and client.shown_until_ms > now_ms:
                    shown |= client.groups
        return shown

    def _observe(self, message: Outbound, sender: Subscriber) -> None:
        """Router observer: connected clients' own position reports join the picture."""
        event = message.event
        if not event.is_situational_awareness or self.emitter.emitted(event.uid):
            return
        now = self.host.now_ms()
        decoded = event_report(event, PLI_SOURCE, "cot", PLI_SIGMA_M, now)
        if not decoded.reports:
            return
        shown_until = min(event.stale, now + MAX_CLIENT_FRESH_MS)
        self._clients.put(f"uid:{event.uid}", ClientReport(frozenset(sender.in_groups), shown_until))
        try:
            self._on_reports(None, decoded.reports)
        except Exception:  # the boundary between the router and fusion: routing must go on
            log.exception("fusion failed on the position report of %s", event.uid)

    def push(self, name: str, body: bytes) -> Decoded:
        """A document pushed to a GeoJSON feed; FeedError if ``name`` is no such feed."""
        feed = self.push_feeds.get(name)
        if feed is None:
            raise FeedError(f"no geojson feed named {name!r}", reason="unknown_feed")
        now = self.host.now_ms()
        decoded = feed.decode(body, now)
        self.health[name].record(decoded, now)
        if decoded.reports:
            self._on_reports(feed.feed, decoded.reports)
        return decoded

    # -- aliases ---------------------------------------------------------------------------

    async def set_alias(self, identity: str, target: str | None, author: str | None) -> None:
        """Declare ``identity`` to be ``target`` (None: forget it), durably when a store is open."""
        for value in (identity, target):
            if value is not None and (
                len(value) > MAX_IDENTITY_CHARS or not value.startswith(IDENTITY_NAMESPACES)
            ):
                allowed = ", ".join(IDENTITY_NAMESPACES)
                raise FusionError(f"identity {value!r} must start with one of {allowed}")
        now = self.host.now_ms()
        self._offer(self.engine.set_alias(identity, target), now)
        store = self.host.store()
        if store is not None:
            body = json.dumps({"identity": identity, "target": target})
            await store.append_journal(ALIAS_STREAM, now, author, body)

    def aliases(self) -> dict[str, str]:
        """The alias table in force."""
        return self.engine.aliases()

    async def _replay_aliases(self) -> None:
        store = self.host.store()
        if store is None:
            return
        try:
            entries = await store.read_journal(ALIAS_STREAM)
        except StoreError as exc:
            log.warning("fusion aliases not replayed: %s", exc)
            return
        for entry in entries:
            try:
                record = json.loads(entry.body)
                self.engine.set_alias(str(record["identity"]), record.get("target"))
            except (ValueError, KeyError, TypeError, FusionError) as exc:
                log.warning("skipping fusion alias journal entry %s: %s", entry.id, exc)

    # -- output for the API ----------------------------------------------------------------

    def tracks_for(self, groups: frozenset[str]) -> list[dict[str, Any]]:
        """Every track (with provenance) a caller in ``groups`` may see: those its feeds route
        there, and those of clients whose position reports are routed there.

        A track known only from clients' own position reports is not sent as CoT (each
        client already shows itself on the map) but is part of the picture an API consumer
        reads: without it, PLI-only teams were missing from ``GET /api/tracks``.
        """
        visible = []
        for track in self.engine.tracks():
            track_groups, affiliation = self.emitter.routing(track)
            for identity in track.identities:
                client = self._clients.get(identity)
                if client is not None:
                    track_groups |= client.groups
            if track_groups & groups:
                summary = track_summary(track)
                summary["affiliation"] = affiliation
                visible.append(summary)
        return visible

    def feeds_for(self, groups: frozenset[str]) -> list[dict[str, Any]]:
        """State of the feeds whose tracks go to at least one of ``groups``."""
        return [self.health[feed.name].as_json() for feed in self.config.feeds if feed.groups & groups]

    def _export_counters(self) -> None:
        counters = self.engine.counters
        for item in fields(counters):
            value = int(getattr(counters, item.name))
            delta = value - self._exported.get(item.name, 0)
            if delta > 0:
                self.host.counters.inc(f"fusion_{item.name}", delta)
                self._exported[item.name] = value

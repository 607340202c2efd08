"""``rallypoint feed NAME``: run one configured feed on its own and send the fused CoT to a server.

For a receiver at a remote site: the feed, its own fusion engine and a CoT stream to the
server run in one process. The stream is plain streaming XML over TCP (what any TAK client
speaks); when the server is unreachable, events wait in a bounded queue (the oldest are
dropped first) and the connection is retried with the same back-off as the feed.
"""

import argparse
import asyncio
import contextlib
import logging
import random
import signal
import time
from collections import deque
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from rallypoint.cot.event import Event
from rallypoint.cot.xml import XmlLimits, serialize_event
from rallypoint.errors import ConfigError
from rallypoint.fusion.engine import FusionEngine
from rallypoint.fusion.feeds.adapters import session_for
from rallypoint.fusion.feeds.backoff import Backoff
from rallypoint.fusion.feeds.config import FeedConfig, FusionFileConfig, load_fusion_file
from rallypoint.fusion.feeds.health import FeedHealth
from rallypoint.fusion.feeds.runner import FeedRunner
from rallypoint.fusion.feeds.transports import CONNECT_TIMEOUT_S, FeedLink
from rallypoint.fusion.report import Report
from rallypoint.fusion.service_emit import TrackEmitter
from rallypoint.router.stats import Counters

log = logging.getLogger(__name__)

MAX_QUEUED_EVENTS = 10_000
"""Fused events kept while the server is unreachable (minutes of a busy ADS-B site)."""
TICK_S = 1.0


def add_feed_parser(commands: Any) -> None:
    """The ``feed`` sub-command."""
    feed = commands.add_parser("feed", help="run one configured feed standalone; send fused CoT to a server")
    feed.add_argument("name", help="the feed's name in the feeds file")
    feed.add_argument("--config", type=Path, default=Path("rallypoint.toml"), help="feeds file ([[feeds]])")
    feed.add_argument("--server", default="tcp://127.0.0.1:8087", help="where to send CoT (tcp://host:port)")


def server_address(url: str) -> tuple[str, int]:
    """``tcp://host:port`` -> (host, port)."""
    parts = urlsplit(url)
    if parts.scheme != "tcp" or not parts.hostname or parts.port is None:
        raise ConfigError(f"--server must be tcp://host:port, not {url!r}")
    return parts.hostname, parts.port


def run_feed_command(args: argparse.Namespace) -> int:
    """Run until SIGINT or SIGTERM (ConfigError for a bad file, feed name or server address)."""
    config = load_fusion_file(args.config)
    feed = config.feed(args.name)
    address = server_address(args.server)
    if feed.kind == "geojson":
        raise ConfigError(f"feed {feed.name} is pushed over HTTP to a server; it cannot run standalone")
    logging.basicConfig(level="INFO", format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(StandaloneFeed(config, feed, address).run_until_signalled())
    return 0


class StandaloneFeed:
    """One feed, one engine, one outgoing CoT stream."""

    def __init__(self, config: FusionFileConfig, feed: FeedConfig, address: tuple[str, int]) -> None:
        self.feed = feed
        self.address = address
        self.counters = Counters()
        self.engine = FusionEngine(config.engine_config())
        self.queue: deque[bytes] = deque(maxlen=MAX_QUEUED_EVENTS)
        self.ready = asyncio.Event()
        self.emitter = TrackEmitter(
            {feed.name: feed},
            self._enqueue,
            self.counters,
            stale_s=config.stale_s,
            min_interval_ms=int(config.min_emit_interval_s * 1000),
        )
        self.rng = random.Random()
        self._flush_handle: asyncio.TimerHandle | None = None

    def _enqueue(self, event: Event, groups: frozenset[str], identity: str | None) -> int:
        if len(self.queue) == self.queue.maxlen:
            self.counters.inc("feed_events_dropped")
        self.queue.append(serialize_event(event))
        self.ready.set()
        return 0

    def _on_reports(self, feed: FeedConfig | None, reports: Sequence[Report]) -> None:
        now = _now_ms()
        for update in self.engine.ingest_many(reports, now):
            self.emitter.offer(update, now)
        self._arm_flush(now)

    def _arm_flush(self, now_ms: int) -> None:
        """Send held updates when they are due, not at the next tick (up to a second later)."""
        due_ms = self.emitter.next_due_ms()
        if due_ms is not None and self._flush_handle is None:
            delay_s = max(0, due_ms - now_ms) / 1000
            self._flush_handle = asyncio.get_running_loop().call_later(delay_s, self._flush)

    def _flush(self) -> None:
        self._flush_handle = None
        now = _now_ms()
        self.emitter.flush(now)
        self._arm_flush(now)

    async def run_until_signalled(self) -> None:
        """Run the feed, the ticker and the sender until SIGINT/SIGTERM."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await self.run(stop)

    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set."""
        session = session_for(self.feed, XmlLimits())
        if session is None:
            raise ConfigError(f"feed {self.feed.name} has no session to run")
        health = FeedHealth(self.feed.name, self.feed.kind, self.counters)
        link = FeedLink(self.feed, health, _now_ms, self._on_reports)
        tasks = [
            asyncio.create_task(FeedRunner(link, session, rng=self.rng).run()),
            asyncio.create_task(self._tick()),
            asyncio.create_task(self._send()),
        ]
        try:
            await stop.wait()
        finally:
            if self._flush_handle is not None:
                self._flush_handle.cancel()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            now = _now_ms()
            for update in self.engine.tick(now):
                self.emitter.offer(update, now)
            self.emitter.flush(now)

    async def _send(self) -> None:
        backoff = Backoff(self.feed.backoff_initial_s, self.feed.backoff_max_s, rng=self.rng)
        while True:
            host, port = self.address
            try:
                async with asyncio.timeout(CONNECT_TIMEOUT_S):  # wait_for may swallow a stop on 3.11
                    _, writer = await asyncio.open_connection(host, port)
            except (OSError, TimeoutError) as exc:
                delay = backoff.next_delay()
                log.warning("server %s:%d unreachable (%s); retrying in %.1f s", host, port, exc, delay)
                await asyncio.sleep(delay)
                continue
            backoff.reset()
            log.info("sending fused CoT to %s:%d", host, port)
            try:
                await self._drain(writer)
            except OSError as exc:
                log.warning("connection to %s:%d lost: %s", host, port, exc)
            finally:
                writer.close()
                with contextlib.suppress(OSError):
                    await writer.wait_closed()

    async def _drain(self, writer: asyncio.StreamWriter) -> None:
        while True:
            await self.ready.wait()
            while self.queue:
                writer.write(self.queue[0])
                await writer.drain()
                self.queue.popleft()
            self.ready.clear()


def _now_ms() -> int:
    return int(time.time() * 1000)

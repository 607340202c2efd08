"""Thin asyncio glue: one connection (TCP, UDP socket or HTTP poll) of one feed.

A session opens its connection, hands each line, datagram or document to its decoder with
the arrival time, and delivers the result to its :class:`FeedLink`. It runs until the
connection fails or ends and then raises :class:`~rallypoint.errors.FeedDown`; the
supervisor (:mod:`rallypoint.fusion.feeds.runner`) decides when to try again.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

import httpx

from rallypoint.errors import FeedDown
from rallypoint.fusion.feeds.config import FeedConfig
from rallypoint.fusion.feeds.decoded import Decoded
from rallypoint.fusion.feeds.health import FeedHealth
from rallypoint.fusion.feeds.http_get import PlainHttpGetter
from rallypoint.fusion.feeds.lines import LineSplitter
from rallypoint.fusion.report import Report

CONNECT_TIMEOUT_S = 10.0
IDLE_TIMEOUT_S = 600.0
"""A TCP feed silent this long is presumed half-dead and reconnected (APRS-IS pings every 20 s)."""
READ_BYTES = 64 * 1024
HTTP_TIMEOUT_S = 10.0
MAX_HTTP_BODY_BYTES = 16 * 1024 * 1024
"""Largest polled document read (a busy readsb's aircraft.json is about 1.5 MB)."""
MAX_DATAGRAM_LINES = 64
"""NMEA sentences one UDP datagram may hold (AIS-catcher sends one to a few per datagram)."""
HTTP_CLIENT_LOGGERS = ("httpx", "httpcore")
"""Loggers of the HTTP client: httpx logs every request at INFO, one line per poll."""

Decode = Callable[[str, int], Decoded]
"""A line decoder: (line, arrival time in ms) -> decoded."""
DecodeBytes = Callable[[bytes, int], Decoded]
OnReports = Callable[[FeedConfig, Sequence[Report]], None]


class FeedLink:
    """Where a session sends what it decoded: the feed's health and the fusion engine."""

    def __init__(
        self, feed: FeedConfig, health: FeedHealth, now_ms: Callable[[], int], on_reports: OnReports
    ) -> None:
        self.feed = feed
        self.health = health
        self.now_ms = now_ms
        self.on_reports = on_reports
        self.delivered = False
        """A report arrived since the supervisor last cleared this (the session was healthy)."""

    def deliver(self, decoded: Decoded, received_ms: int) -> None:
        """Count one unit's outcome and pass its reports on."""
        self.health.record(decoded, received_ms)
        if decoded.reports:
            self.delivered = True
            self.on_reports(self.feed, decoded.reports)


async def connect(feed: FeedConfig) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Open the feed's TCP connection (FeedDown if refused or unanswered)."""
    try:
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow the cancellation
        # that stops the feed when the connection completes in the same loop iteration.
        async with asyncio.timeout(CONNECT_TIMEOUT_S):
            return await asyncio.open_connection(feed.host, feed.port)
    except TimeoutError as exc:
        raise FeedDown(f"{feed.host}:{feed.port} did not answer", reason="timeout") from exc
    except OSError as exc:
        raise FeedDown(f"cannot connect to {feed.host}:{feed.port}: {exc}", reason="refused") from exc


async def read_chunk(reader: asyncio.StreamReader) -> bytes:
    """The next bytes from the peer (FeedDown when it closes, fails or stays silent too long)."""
    try:
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows the feed's stop when
        # the read completes in the same loop iteration, and the supervisor runs on for ever.
        async with asyncio.timeout(IDLE_TIMEOUT_S):
            chunk = await reader.read(READ_BYTES)
    except TimeoutError as exc:
        raise FeedDown("no data", reason="idle") from exc
    except OSError as exc:
        raise FeedDown(f"connection lost: {exc}", reason="connection") from exc
    if not chunk:
        raise FeedDown("closed by the peer", reason="closed")
    return chunk


async def read_lines(link: FeedLink, decode: Decode, *, login: bytes | None = None) -> None:
    """Read a line protocol (SBS-1, AVR, NMEA, APRS-IS) from a TCP server until it fails."""
    reader, writer = await connect(link.feed)
    try:
        if login is not None:
            writer.write(login)
        link.health.connected()
        splitter = LineSplitter()
        while True:
            chunk = await read_chunk(reader)
            now = link.now_ms()
            too_long = splitter.too_long
            for line in splitter.feed(chunk):
                link.deliver(decode(line, now), now)
            link.health.error("line_too_long", splitter.too_long - too_long)
    finally:
        writer.close()


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self, handle: Callable[[bytes], None], closed: asyncio.Future[None]) -> None:
        self.handle = handle
        self.closed = closed

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.handle(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


async def receive_datagrams(link: FeedLink, handle: Callable[[bytes], None]) -> None:
    """Bind the feed's UDP address and hand each datagram to ``handle`` until the socket closes."""
    loop = asyncio.get_running_loop()
    closed: asyncio.Future[None] = loop.create_future()
    try:
        transport, _ = await loop.create_datagram_endpoint(
            lambda: _Datagrams(handle, closed), local_addr=(link.feed.host, link.feed.port)
        )
    except OSError as exc:
        raise FeedDown(f"cannot bind udp {link.feed.host}:{link.feed.port}: {exc}", reason="bind") from exc
    link.health.connected()
    try:
        await closed
    finally:
        transport.close()
    raise FeedDown("socket closed", reason="closed")


def datagram_lines(link: FeedLink, decode: Decode) -> Callable[[bytes], None]:
    """A datagram handler for line protocols (NMEA over UDP): each line decoded on its own."""

    def handle(data: bytes) -> None:
        now = link.now_ms()
        lines = data.decode("ascii", "replace").splitlines()
        if len(lines) > MAX_DATAGRAM_LINES:
            link.health.error("too_many_lines")
            lines = lines[:MAX_DATAGRAM_LINES]
        for line in lines:
            link.deliver(decode(line, now), now)

    return handle


def datagram_whole(link: FeedLink, decode: DecodeBytes) -> Callable[[bytes], None]:
    """A datagram handler for one-message-per-datagram protocols (CoT over UDP)."""

    def handle(data: bytes) -> None:
        now = link.now_ms()
        link.deliver(decode(data, now), now)

    return handle


async def poll_http(link: FeedLink, decode: DecodeBytes) -> None:
    """GET the feed's URL every ``interval_s`` and decode each body, until a request fails.

    ``http://`` goes through :class:`~rallypoint.fusion.feeds.http_get.PlainHttpGetter` (one
    kept-alive connection, a tenth of httpx's CPU per poll); ``https://`` through httpx.
    """
    feed = link.feed
    quiet_http_client_logs()  # the back-off's probes still GET through httpx
    if feed.url.startswith("http://"):
        getter = PlainHttpGetter(feed.url, HTTP_TIMEOUT_S, MAX_HTTP_BODY_BYTES)
        try:
            await _poll(link, decode, getter.get)
        finally:
            getter.close()
        return
    async with httpx.AsyncClient(timeout=HTTP_TIMEOUT_S, follow_redirects=False) as client:
        await _poll(link, decode, lambda: _get(client, feed.url))


async def _poll(link: FeedLink, decode: DecodeBytes, get: Callable[[], Awaitable[bytes]]) -> None:
    while True:
        body = await get()
        if link.health.state != "up":
            link.health.connected()
        now = link.now_ms()
        link.deliver(decode(body, now), now)
        await asyncio.sleep(link.feed.interval_s)


PROBE_TIMEOUT_S = 2.0
"""A probe waits this long for an answer: it runs every ``backoff_probe_s`` during a back-off."""

Probe = Callable[[FeedConfig], Awaitable[bool]]
"""Does the feed's source answer again? Cheap and silent: no session, no login, no decoding."""


async def probe_source(feed: FeedConfig) -> bool:
    """True when the source answers: a TCP connect is accepted, or a GET returns 200.

    A listening feed (UDP, pushed GeoJSON) has nothing to probe; it answers False and its
    supervisor simply waits out the back-off.
    """
    try:
        if feed.kind == "adsb_json":
            async with (
                httpx.AsyncClient(timeout=PROBE_TIMEOUT_S, follow_redirects=False) as client,
                client.stream("GET", feed.url) as response,
            ):
                return response.status_code == 200
        if feed.port and not feed.kind.endswith("_udp"):
            async with asyncio.timeout(PROBE_TIMEOUT_S):
                _, writer = await asyncio.open_connection(feed.host, feed.port)
            writer.close()
            return True
    except (OSError, TimeoutError, httpx.HTTPError):
        return False
    return False


def quiet_http_client_logs() -> None:
    """Raise the HTTP client's loggers to WARNING unless the operator set a level for them.

    A feed polled twice a second would otherwise fill the server log with one
    ``HTTP Request: GET …`` line per poll, drowning everything else; failures still show, as
    the feed's own warnings and its ``feed_failures`` counter.
    """
    for name in HTTP_CLIENT_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.WARNING)


async def _get(client: httpx.AsyncClient, url: str) -> bytes:
    try:
        async with client.stream("GET", url) as response:
            if response.status_code != 200:
                raise FeedDown(f"GET {url}: {response.status_code}", reason=f"http_{response.status_code}")
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_HTTP_BODY_BYTES:
                    raise FeedDown(f"GET {url}: body over {MAX_HTTP_BODY_BYTES} bytes", reason="too_large")
            return bytes(body)
    except httpx.HTTPError as exc:
        raise FeedDown(f"GET {url}: {exc}", reason="http") from exc

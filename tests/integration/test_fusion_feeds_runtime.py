"""Feed sessions on real local sockets: restart with back-off, HTTP polling, UDP, APRS-IS login,
counters in the server's Counters."""

import asyncio
import itertools
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from rallypoint.clock import ManualClock
from rallypoint.cot.xml import XmlLimits
from rallypoint.errors import FeedDown
from rallypoint.fusion.feeds.adapters import session_for
from rallypoint.fusion.feeds.backoff import Backoff
from rallypoint.fusion.feeds.config import FeedConfig
from rallypoint.fusion.feeds.health import FeedHealth, FeedState
from rallypoint.fusion.feeds.runner import FeedRunner
from rallypoint.fusion.feeds.transports import FeedLink, probe_source, read_chunk
from rallypoint.fusion.report import Report
from rallypoint.router.stats import Counters
from tests.fixtures.feeds.fakes import HttpServer, LineServer, closed_tcp_port, free_udp_port, send_udp
from tests.waiting import eventually

FEEDS = Path(__file__).parents[1] / "fixtures" / "feeds"


MAX_SLEEPS = 200
"""Back-off waits a harness lets pass; after that its supervisor waits until the test ends."""


class RecordingHealth(FeedHealth):
    """A feed's health that also keeps every back-off delay its supervisor chose."""

    def __init__(self, name: str, kind: str, counters: Counters) -> None:
        super().__init__(name, kind, counters)
        self.delays: list[float] = []

    def failed(self, reason: str, retry_in_s: float) -> None:
        self.delays.append(retry_in_s)
        super().failed(reason, retry_in_s)


class Harness:
    """One feed under a real supervisor, with what it delivered collected.

    The supervisor's back-off waits pass at once (a yield to the loop, no wall-clock sleep):
    the tests wait for what the feed did, and at most ``MAX_SLEEPS`` waits pass, so a feed
    that fails instantly cannot spin unbounded.
    """

    def __init__(self, feed: FeedConfig) -> None:
        self.feed = feed
        self.counters = Counters()
        self.health = RecordingHealth(feed.name, feed.kind, self.counters)
        self.reports: list[Report] = []
        self.sleeps = 0
        self._never = asyncio.Event()
        session = session_for(feed, XmlLimits())
        assert session is not None
        self.link = FeedLink(feed, self.health, lambda: 1_712_345_679_000, self._collect)
        self.runner = FeedRunner(self.link, session, rng=random.Random(7), sleep=self._sleep)
        self.task: asyncio.Task[None] | None = None

    @property
    def delays(self) -> list[float]:
        return self.health.delays

    def _collect(self, feed: FeedConfig | None, reports: Sequence[Report]) -> None:
        self.reports.extend(reports)

    async def _sleep(self, delay: float) -> None:
        self.sleeps += 1
        if self.sleeps > MAX_SLEEPS:
            await self._never.wait()
        await asyncio.sleep(0)

    async def __aenter__(self) -> "Harness":
        self.task = asyncio.create_task(self.runner.run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.task is not None
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)

    async def until(self, condition: Callable[[], bool]) -> None:
        await eventually(condition)


def feed(kind: str, port: int = 0, **options: object) -> FeedConfig:
    return FeedConfig(
        name=f"t-{kind}",
        kind=kind,
        port=port,
        backoff_initial_s=1.0,
        backoff_max_s=8.0,
        **options,  # type: ignore[arg-type]
    )


def test_backoff_grows_caps_jitters_and_resets() -> None:
    backoff = Backoff(1.0, 8.0, jitter=0.5, rng=random.Random(1))
    delays = [backoff.next_delay() for _ in range(6)]
    bases = [1, 2, 4, 8, 8, 8]
    assert all(base * 0.5 <= delay <= base for delay, base in zip(delays, bases, strict=True))
    same_seed = Backoff(1.0, 8.0, jitter=0.5, rng=random.Random(1))
    assert [same_seed.next_delay() for _ in range(6)] == delays
    backoff.reset()
    assert backoff.next_delay() <= 1.0


async def test_a_dying_feed_is_restarted_with_growing_delays() -> None:
    server = await LineServer([(FEEDS / "sbs1.txt").read_bytes()]).start()
    try:
        async with Harness(feed("sbs", server.port)) as harness:
            await harness.until(lambda: server.connections >= 3)
            await harness.until(lambda: harness.health.failures >= 3)
    finally:
        await server.stop()
    assert len(harness.reports) >= 6  # two positions per session
    assert harness.health.last_failure == "closed"
    assert harness.counters.get("feed_failures{feed=t-sbs,reason=closed}") >= 3
    assert harness.counters.get("feed_reports{feed=t-sbs}") == len(harness.reports)
    # each session delivered reports, so the delay starts again from the bottom every time
    assert all(delay <= 1.0 for delay in harness.delays)


async def test_a_feed_stopped_as_its_read_completes_stops() -> None:
    """The stop wins over bytes that arrive in the same loop iteration.

    With ``asyncio.wait_for`` on Python 3.11 the read's result swallowed the cancellation,
    the supervisor ran on and a stopped feed (or a test's harness) never ended.
    """
    reader = asyncio.StreamReader()
    task = asyncio.create_task(read_chunk(reader))
    await asyncio.sleep(0)  # a yield: the read is now waiting for bytes
    reader.feed_data(b"MSG,3\n")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_refused_connections_back_off_exponentially() -> None:
    async with Harness(feed("sbs", closed_tcp_port())) as harness:
        await harness.until(lambda: len(harness.delays) >= 4)
    assert harness.health.last_failure == "refused"
    assert harness.health.state is FeedState.STOPPED
    bases = [1, 2, 4, 8]
    assert all(b * 0.5 <= d <= b for d, b in zip(harness.delays[:4], bases, strict=True))
    assert harness.counters.gauges().get("feed_up{feed=t-sbs}", 0) == 0


class OutageSource:
    """A source down from the first attempt until ``back_at_s`` on a manual clock."""

    def __init__(self, clock: ManualClock, back_at_s: float) -> None:
        self.clock = clock
        self.back_at_s = back_at_s
        self.attempts: list[float] = []
        self.probes: list[float] = []
        self.up_again = asyncio.Event()

    async def session(self, link: FeedLink) -> None:
        self.attempts.append(self.clock())
        if self.clock() < self.back_at_s:
            raise FeedDown("refused", reason="refused")
        self.up_again.set()
        await asyncio.Event().wait()  # a healthy session runs until cancelled

    async def probe(self, feed: FeedConfig) -> bool:
        self.probes.append(self.clock())
        return self.clock() >= self.back_at_s

    async def sleep(self, delay: float) -> None:
        self.clock.advance(delay)
        await asyncio.sleep(0)


@pytest.mark.parametrize("probe_s", [0.5, 1.0])
async def test_a_source_back_after_an_outage_is_probed_and_restarted_quickly(probe_s: float) -> None:
    clock = ManualClock(start=70.0)
    source = OutageSource(clock, back_at_s=110.0)
    config = replace(feed("sbs", 30003), backoff_max_s=60.0, backoff_probe_s=probe_s)
    health = RecordingHealth(config.name, config.kind, Counters())
    link = FeedLink(config, health, lambda: round(clock() * 1000), lambda *_: None)
    runner = FeedRunner(link, source.session, rng=random.Random(3), sleep=source.sleep, probe=source.probe)
    task = asyncio.create_task(runner.run())
    try:
        await asyncio.wait_for(source.up_again.wait(), 10)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    restarted = source.attempts[-1]
    # the delay in force when the source came back was long (exponential: 16-32 s) …
    assert health.delays[-1] > 8.0
    # … yet the session restarted within one probe step of the source's return
    assert 110.0 <= restarted <= 110.0 + probe_s + 1e-9
    assert [t for t in source.probes if t >= 110.0] == [restarted]
    # the source is asked (probed, or a session tried) at least every probe step
    contacts = sorted(source.probes + source.attempts)
    assert all(b - a <= probe_s + 1e-9 for a, b in itertools.pairwise(contacts))


async def test_probes_ask_the_real_source() -> None:
    http = await HttpServer(lambda path: b"{}").start()
    lines = await LineServer([b""], hold_open=True).start()
    try:
        assert await probe_source(feed("adsb_json", url=http.url("/data/aircraft.json")))
        assert await probe_source(feed("sbs", lines.port))
        assert not await probe_source(feed("sbs", closed_tcp_port()))
        assert not await probe_source(feed("ais_udp", free_udp_port()))
        http.status = 503
        assert not await probe_source(feed("adsb_json", url=http.url("/data/aircraft.json")))
    finally:
        await http.stop()
        await lines.stop()


async def test_malformed_lines_are_counted_and_the_feed_keeps_reading() -> None:
    lines = (FEEDS / "sbs1_malformed.txt").read_bytes() + (FEEDS / "sbs1.txt").read_bytes()
    server = await LineServer([lines, b"x" * 10_000 + b"\n"], hold_open=True).start()
    try:
        async with Harness(feed("sbs", server.port)) as harness:
            await harness.until(
                lambda: len(harness.reports) == 2 and harness.health.errors.get("line_too_long")
            )
            assert harness.health.state is FeedState.UP
            assert harness.counters.gauges().get("feed_up{feed=t-sbs}", 0) == 1
    finally:
        await server.stop()
    assert harness.health.errors["bad_position"] == 2
    assert harness.counters.get("feed_errors{feed=t-sbs,reason=bad_sbs_line}") == 2


async def test_aprs_is_login_and_lines() -> None:
    server = await LineServer([(FEEDS / "aprs.txt").read_bytes()], hold_open=True, read_login=True).start()
    try:
        options = {"login": "N0CALL", "aprs_filter": "r/49/-72/100"}
        async with Harness(feed("aprs_is", server.port, **options)) as harness:
            await harness.until(lambda: len(harness.reports) == 5)
    finally:
        await server.stop()
    assert server.received == [b"user N0CALL pass -1 vers rallypoint 0.1 filter r/49/-72/100\r\n"]


async def test_readsb_polled_over_http_and_http_errors_restart(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("httpx", "httpcore"):
        monkeypatch.setattr(logging.getLogger(name), "level", logging.NOTSET)
    caplog.set_level(logging.INFO)
    document = (FEEDS / "aircraft.json").read_bytes()
    server = await HttpServer(lambda path: document).start()
    try:
        options = {"url": server.url("/data/aircraft.json"), "interval_s": 0.01}
        async with Harness(feed("adsb_json", **options)) as harness:
            await harness.until(lambda: server.requests >= 3)
            assert len(harness.reports) == 3  # the same snapshot again is no news
            server.status = 503
            await harness.until(lambda: harness.health.last_failure == "http_503")
    finally:
        await server.stop()
    # httpx logs each request at INFO: one line per poll in the server log, unless silenced
    assert [r.getMessage() for r in caplog.records if r.name.startswith("http")] == []
    assert logging.getLogger("httpx").level == logging.WARNING
    # the newest report's arrival time is a gauge (a point in time), never a counter
    assert harness.counters.gauges()["feed_last_report_ms{feed=t-adsb_json}"] == 1_712_345_679_000
    assert not any(name.startswith("feed_last_report_ms") for name in harness.counters.snapshot())


async def test_ais_over_udp_reassembles_across_datagrams() -> None:
    port = free_udp_port()
    sentences = (FEEDS / "ais.nmea").read_bytes().splitlines()
    async with Harness(feed("ais_udp", port)) as harness:
        await harness.until(lambda: harness.health.state is FeedState.UP)
        send_udp(port, b"\n".join(sentences[:4]), *sentences[4:], b"!AIVDM,garbage")
        await harness.until(lambda: len(harness.reports) == 8)
        await harness.until(lambda: sum(harness.health.errors.values()) == 1)
    assert harness.health.ignored == 1  # the reassembled static message


@pytest.mark.parametrize("kind", ["cot_udp", "cot_tcp"])
async def test_cot_gateway(kind: str) -> None:
    event = (
        b'<event version="2.0" uid="GW-1" type="a-f-G" how="m-g" time="2024-04-05T19:34:38Z"'
        b' start="2024-04-05T19:34:38Z" stale="2024-04-05T19:44:38Z"><point lat="1.0" lon="2.0"'
        b' hae="0" ce="5" le="5"/><detail><contact callsign="G1"/></detail></event>'
    )
    if kind == "cot_udp":
        port = free_udp_port()
        async with Harness(feed(kind, port)) as harness:
            await harness.until(lambda: harness.health.state is FeedState.UP)
            send_udp(port, event, b"<event>broken")
            await harness.until(lambda: len(harness.reports) == 1 and harness.health.errors)
        return
    server = await LineServer([event + b"\n" + event], hold_open=True).start()
    try:
        async with Harness(feed(kind, server.port)) as harness:
            await harness.until(lambda: len(harness.reports) == 2)
    finally:
        await server.stop()
    assert {r.identity for r in harness.reports} == {"uid:GW-1"}

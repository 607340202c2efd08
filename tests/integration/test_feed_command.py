"""``rallypoint feed NAME``: one feed standalone, fused CoT streamed to a server over TCP."""

import asyncio
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from rallypoint.cli import main
from rallypoint.fusion.commands import StandaloneFeed, server_address
from rallypoint.fusion.feeds.config import load_fusion_file
from tests.conftest import RunningServer, read_until
from tests.fixtures.feeds.fakes import LineServer, closed_tcp_port
from tests.waiting import EVENT_TIMEOUT_S, eventually

FEEDS = Path(__file__).parents[1] / "fixtures" / "feeds"


def test_server_address() -> None:
    assert server_address("tcp://127.0.0.1:8087") == ("127.0.0.1", 8087)
    assert main(["feed", "x", "--config", "/nonexistent/feeds.toml"]) == 2


def test_unknown_feed_and_bad_server_are_config_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "feeds.toml"
    path.write_text('[[feeds]]\nname = "sbs"\nkind = "sbs"\nport = 30003\n')
    assert main(["feed", "nope", "--config", str(path)]) == 2
    assert "no feed named 'nope'" in capsys.readouterr().err
    assert main(["feed", "sbs", "--config", str(path), "--server", "http://x:1"]) == 2


async def test_fused_tracks_reach_the_server_after_it_comes_up(
    tmp_path: Path, running_server: RunningServer
) -> None:
    source = await LineServer([(FEEDS / "sbs1.txt").read_bytes()], hold_open=True).start()
    path = tmp_path / "feeds.toml"
    path.write_text(
        f'[fusion]\nmin_emit_interval_s = 0.1\n[[feeds]]\nname = "sbs-site"\nkind = "sbs"\nport = {source.port}\n'
        "backoff_initial_s = 0.05\nbackoff_max_s = 0.1\n"
    )
    config = load_fusion_file(path)
    watcher_reader, watcher_writer = await running_server.connect()
    feed = StandaloneFeed(config, config.feed("sbs-site"), ("127.0.0.1", closed_tcp_port()))
    stop = asyncio.Event()
    task = asyncio.create_task(feed.run(stop))
    try:
        await eventually(lambda: feed.queue, what="fused tracks queued while the server is down")
        feed.address = ("127.0.0.1", running_server.ports.tcp)  # the server "comes up"
        data = await read_until(watcher_reader, lambda b: b"__fusion" in b and b"</event>" in b)
    finally:
        stop.set()
        await asyncio.wait_for(task, EVENT_TIMEOUT_S)
        watcher_writer.close()
        await source.stop()
    marker = data.index(b"__fusion")
    start, end = data.rindex(b"<event", 0, marker), data.index(b"</event>", marker) + len(b"</event>")
    event = ET.fromstring(data[start:end])
    assert event.get("type") == "a-u-A"
    fusion = event.find("detail/__fusion")
    assert fusion is not None
    assert fusion.get("identities") == "icao:4ca2d6"
    assert [s.get("name") for s in fusion.iter("source")] == ["sbs-site"]

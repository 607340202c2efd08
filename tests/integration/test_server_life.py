"""The server's life as one piece: start-up is all-or-nothing, and its one timer runs on the
clock it was given, so a test moves time on and a component's deadline arrives without a wait."""

import asyncio
import socket
from pathlib import Path

import pytest

from rallypoint.clock import ManualClock
from rallypoint.config import Settings
from rallypoint.errors import ConfigError
from rallypoint.router.host import Host
from rallypoint.server import server as server_module
from rallypoint.server.components import Part
from rallypoint.server.server import Server
from rallypoint.transport.context import ServerContext
from tests.waiting import eventually


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _own_tasks() -> list[str]:
    return sorted(t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith("rallypoint"))


async def test_a_port_taken_half_way_leaves_nothing_open_or_running(tmp_path: Path) -> None:
    tcp_port = _free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        settings = Settings(
            data_dir=tmp_path / "data",
            tcp_port=tcp_port,
            udp_port=0,
            tls_port=None,
            enrollment_port=None,
            api_tls_port=None,
            api_plain_port=int(taken.getsockname()[1]),  # opened after the TCP listener
            web_port=None,
            missions_enabled=True,
        )
        server = Server(settings)
        with pytest.raises(ConfigError):
            await server.start()

    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", tcp_port)
    assert server.components == []
    assert server.context.store is None
    assert _own_tasks() == []


class _Beacon:
    """A component that wants ticking every ``period_ms``, and records when it was ticked."""

    def __init__(self, period_ms: int) -> None:
        self.period_ms = period_ms
        self.ticked: list[int] = []

    async def start(self) -> None:
        """Nothing to load."""

    def tick(self, now_ms: int) -> int:
        self.ticked.append(now_ms)
        return now_ms + self.period_ms

    async def stop(self) -> None:
        """Nothing to end."""


async def test_advancing_the_clock_drives_a_components_deadline(
    server_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast, slow = _Beacon(1_000), _Beacon(5_000)

    def build(_context: ServerContext, _host: Host, _federation: object = None) -> list[Part]:
        return [Part(fast), Part(slow)]

    monkeypatch.setattr(server_module, "build_parts", build)
    clock = ManualClock(start=50.0, wall_ms=1_000_000)
    server = Server(server_settings, clock=clock)
    await server.start()
    try:
        await eventually(lambda: slow.ticked == fast.ticked == [1_000_000], what="the ticks at start")
        clock.advance(4.0)
        await eventually(lambda: len(fast.ticked) == 2, what="the fast component's tick")
        assert fast.ticked == [1_000_000, 1_004_000]
        assert slow.ticked == [1_000_000]  # the timer ran, and the slow one was not due
        clock.advance(1.0)
        await eventually(lambda: len(slow.ticked) == 2, what="the slow component's deadline")
        assert slow.ticked == [1_000_000, 1_005_000]
    finally:
        await server.stop()
    assert _own_tasks() == []

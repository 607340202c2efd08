"""Shared fixtures: fixture files, and a real server on 127.0.0.1 with ephemeral ports."""

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from rallypoint.config import Settings
from rallypoint.net.server import BoundPorts, Server

hypothesis_settings.register_profile(
    "rallypoint", deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
hypothesis_settings.load_profile("rallypoint")
"""Deterministic examples, and no per-example deadline: CI machines are shared and noisy."""

FIXTURES = Path(__file__).parent / "fixtures" / "cot"
EVENT_FIXTURES = sorted(p for p in FIXTURES.glob("*.xml") if not p.name.startswith("dp_"))


def fixture_bytes(name: str) -> bytes:
    """The bytes of one recorded message in tests/fixtures/cot."""
    return (FIXTURES / name).read_bytes()


def fresh(data: bytes, stale: str = "2099-01-01T00:00:00.000Z") -> bytes:
    """A recorded event with its stale time moved into the future, so caches keep it."""
    return re.sub(rb"stale=(['\"])[^'\"]*\1", f'stale="{stale}"'.encode(), data, count=1)


@dataclass
class RunningServer:
    """A server started inside the test's event loop."""

    server: Server
    ports: BoundPorts
    host: str = "127.0.0.1"

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """Open a plain TCP stream to the server."""
        return await asyncio.open_connection(self.host, self.ports.tcp)


@pytest.fixture
def server_settings(tmp_path: Path) -> Settings:
    """Settings for a test server: ephemeral ports on loopback, data in a temporary directory."""
    return Settings(data_dir=tmp_path / "data", tcp_port=0, udp_port=0, tls_port=None, enrollment_port=None)


@pytest.fixture
async def running_server(server_settings: Settings) -> AsyncIterator[RunningServer]:
    """A real server for the duration of one test; stopped afterwards."""
    server = Server(server_settings)
    ports = await server.start()
    try:
        yield RunningServer(server, ports)
    finally:
        await server.stop()


async def read_until(
    reader: asyncio.StreamReader, predicate: Callable[[bytes], bool], timeout: float = 5.0
) -> bytes:
    """Read from ``reader`` until ``predicate(all bytes so far)`` holds; fail after ``timeout``."""
    received = b""

    async def loop() -> bytes:
        nonlocal received
        while not predicate(received):
            chunk = await reader.read(65536)
            if not chunk:
                break
            received += chunk
        return received

    return await asyncio.wait_for(loop(), timeout)

"""A real NATS server with JetStream for the cluster tests, and nodes of a cluster in the test's loop.

``RALLYPOINT_TEST_NATS_URL`` (CI sets it, see ``.ci/run``) names a running server for the
tests that only need one; the tests that restart NATS always start their own. Each server
started here listens on an explicit loopback port with a throwaway store directory and is
ended by its PID; the tests are skipped, with the reason, when ``nats-server`` is absent.
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import nats
import nats.errors
import pytest

from rallypoint.config import Settings
from rallypoint.server.server import Server
from tests.conftest import RunningServer
from tests.integration.test_store import _fresh_database, postgres_url
from tests.waiting import eventually

NATS_URL_ENV = "RALLYPOINT_TEST_NATS_URL"
NATS_BINARY_PATHS = ("/usr/sbin/nats-server", "/usr/bin/nats-server")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def nats_binary() -> str:
    found = shutil.which("nats-server") or next((p for p in NATS_BINARY_PATHS if Path(p).exists()), None)
    if found is None:
        pytest.skip("nats-server is not installed (Debian: apt-get install nats-server)")
    return found


async def _quiet(_exc: Exception) -> None:
    """Refused connections are expected while the server starts: not worth a logged traceback."""


async def jetstream_ready(url: str) -> bool:
    """Whether a client can reach JetStream at ``url`` (the server answers its account info)."""
    try:
        client = await nats.connect(url, allow_reconnect=False, connect_timeout=1, error_cb=_quiet)
    except (OSError, nats.errors.Error):
        return False
    try:
        await client.jetstream().account_info()
        return True
    except (OSError, nats.errors.Error):
        return False
    finally:
        await client.close()


@dataclass
class NatsServer:
    """One ``nats-server -js`` on 127.0.0.1, which a test may stop and start again (same port, same store)."""

    store_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    log: BinaryIO | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    async def start(self) -> None:
        command = [nats_binary(), "-js", "-sd", str(self.store_dir), "-a", "127.0.0.1", "-p", str(self.port)]
        self.log = (self.store_dir.parent / "nats.log").open("ab")
        self.process = subprocess.Popen(command, stdout=self.log, stderr=self.log)  # noqa: ASYNC220
        await eventually(lambda: jetstream_ready(self.url), what=f"JetStream on {self.url}")

    def stop(self) -> None:
        """End the server by its PID and wait for it."""
        process, self.process = self.process, None
        if self.log is not None:
            self.log.close()
            self.log = None
        if process is None or process.poll() is not None:
            return
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


def node_settings(
    base: Settings, cluster_name: str, name: str, nats_url: str, store_url: str, data_dir: Path
) -> Settings:
    """One node: its own streaming port (any free one), the shared NATS and PostgreSQL."""
    return base.with_overrides(
        {
            "cluster_url": nats_url,
            "cluster_node_id": name,
            "cluster_name": cluster_name,
            "store_url": store_url,
            "data_dir": data_dir,
            "missions_enabled": False,
        }
    )


async def start_node(settings: Settings) -> RunningServer:
    server = Server(settings)
    ports = await server.start()
    return RunningServer(server, ports)


async def stop_nodes(nodes: list[RunningServer]) -> None:
    for node in nodes:
        await node.server.stop()


def bus_ready(node: RunningServer) -> bool:
    """The node's bus is connected and reading the stream."""
    bus = node.server.cluster
    return bus is not None and bus.ready


def bus_down(node: RunningServer) -> bool:
    bus = node.server.cluster
    return bus is not None and not bus.ready


@pytest.fixture
async def nats_server(tmp_path: Path) -> AsyncIterator[NatsServer]:
    """A NATS server of this test's own, which it may restart; ended by PID afterwards."""
    store = tmp_path / "jetstream"
    store.mkdir()
    server = NatsServer(store)
    await server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def nats_url(tmp_path: Path) -> AsyncIterator[str]:
    """CI's NATS server (``RALLYPOINT_TEST_NATS_URL``), else one of this test's own."""
    url = os.environ.get(NATS_URL_ENV)
    if url:
        yield url
        return
    store = tmp_path / "jetstream"
    store.mkdir()
    server = NatsServer(store)
    await server.start()
    try:
        yield server.url
    finally:
        server.stop()


def cluster_name() -> str:
    """A cluster of its own for one test: its stream and subjects, however many tests share NATS."""
    return f"test{uuid.uuid4().hex[:12]}"


async def delete_stream(url: str, cluster: str) -> None:
    """Drop a test cluster's JetStream stream from a NATS server other tests go on using."""
    client = await nats.connect(url, allow_reconnect=False, connect_timeout=5, error_cb=_quiet)
    try:
        with contextlib.suppress(nats.errors.Error):
            await client.jetstream().delete_stream(f"RALLYPOINT_{cluster}")
    finally:
        await client.close()


@pytest.fixture
async def cluster_store(postgres_url: str) -> AsyncIterator[str]:
    """A fresh PostgreSQL database every node of the test shares."""
    async with _fresh_database(postgres_url) as url:
        yield url


__all__ = ["postgres_url"]  # the store suite's session fixture, for the cluster tests

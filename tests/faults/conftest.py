"""The server the fault tests run against: in process, plain TCP only, a store in a temporary directory."""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from rallypoint.config import Settings
from rallypoint.server.server import Server
from tests.faults.netns import namespace

__all__ = ["fault_settings", "namespace", "running"]


def fault_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Plain TCP on a free port, nothing else listening, the store under ``tmp_path``."""
    defaults: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "tcp_port": 0,
        "udp_port": None,
        "tls_port": None,
        "enrollment_port": None,
        "api_tls_port": None,
        "api_plain_port": None,
        "web_port": None,
    }
    return Settings(**(defaults | overrides))


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[tuple[Server, int]]:
    running = Server(fault_settings(tmp_path))
    ports = await running.start()
    try:
        yield running, ports.tcp
    finally:
        await running.stop()

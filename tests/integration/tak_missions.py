"""What the TAK-client mission tests share: a server with the API over mutual TLS and three
callers: ``cp`` (groups ops and intel), ``alpha`` (ops) and ``eve`` (other)."""

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from rallypoint.config import Settings
from rallypoint.missions.service import MissionService
from tests.conftest import Credentials, PkiFixture, RunningServer
from tests.waiting import EVENT_TIMEOUT_S

PREFIX = "/Marti/api/missions"


def api_settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        tcp_port=0,
        web_port=None,
        udp_port=None,
        tls_port=0,
        enrollment_port=None,
        api_tls_port=0,
        api_plain_port=None,
    )


@dataclass
class Callers:
    server: RunningServer
    pki: PkiFixture
    cp: httpx.AsyncClient
    alpha: httpx.AsyncClient
    eve: httpx.AsyncClient

    def missions(self) -> MissionService:
        return next(c for c in self.server.server.components if isinstance(c, MissionService))


def https(server: RunningServer, pki: PkiFixture, credentials: Credentials) -> httpx.AsyncClient:
    assert server.ports.api_tls is not None
    return httpx.AsyncClient(
        base_url=f"https://127.0.0.1:{server.ports.api_tls}",
        verify=pki.client_context(credentials),
        timeout=EVENT_TIMEOUT_S,
    )


@contextlib.asynccontextmanager
async def open_callers(server: RunningServer, pki: PkiFixture) -> AsyncIterator[Callers]:
    cp = https(server, pki, pki.add_user("cp", "ops", "intel"))
    alpha = https(server, pki, pki.add_user("alpha", "ops"))
    eve = https(server, pki, pki.add_user("eve", "other"))
    async with cp, alpha, eve:
        yield Callers(server, pki, cp, alpha, eve)


def only(response: httpx.Response) -> dict[str, Any]:
    """The one mission of a TAK Mission envelope."""
    body = response.json()
    assert body["version"] == "3"
    assert body["type"] == "Mission"
    assert len(body["data"]) == 1, body
    mission: dict[str, Any] = body["data"][0]
    return mission

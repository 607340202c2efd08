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
from tests.settings import listening
from tests.waiting import EVENT_TIMEOUT_S

PREFIX = "/Marti/api/missions"


def api_settings(tmp_path: Path) -> Settings:
    return listening(tmp_path, tls_port=0, api_tls_port=0)


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


Schema = dict[str, type | tuple[type, ...]]

NODE_TAK_MISSION: Schema = {
    "name": str,
    "description": str,
    "tool": str,
    "keywords": list,
    "createTime": str,
    "externalData": list,
    "feeds": list,
    "mapLayers": list,
    "inviteOnly": bool,
    "expiration": (int, float),
    "guid": str,
    "uids": list,
    "contents": list,
    "passwordProtected": bool,
}
"""The required fields of node-tak 12's ``Mission`` TypeBox schema (lib/api/mission.ts)."""
NODE_TAK_MISSION_SUBSCRIBER: Schema = {"clientUid": str, "username": str, "createTime": str, "role": dict}
"""node-tak's ``MissionSubscriber`` (the rows of ``…/subscriptions/roles``)."""
NODE_TAK_MISSION_INVITE: Schema = {"invitee": str, "type": str, "creatorUid": str, "createTime": str}
"""The fields of node-tak's ``MissionInvite`` that TAK Server fills (times as ISO strings)."""
NODE_TAK_MISSION_LAYER: Schema = {"name": str, "type": str, "uid": str}
NODE_TAK_GROUP: Schema = {
    "name": str,
    "direction": str,
    "created": str,
    "type": str,
    "bitpos": (int, float),
    "active": bool,
}
NODE_TAK_SUBSCRIPTION: Schema = {
    **dict.fromkeys(
        ("callsign", "clientUid", "takClient", "takVersion", "username", "role", "team", "ipAddress", "port"),
        str,
    ),
    **dict.fromkeys(
        ("lastReportMilliseconds", "pendingWrites", "numProcessed", "lastReportDiffMilliseconds"), int
    ),
    **dict.fromkeys(("protocol", "subscriptionUid", "appFramerate", "battery", "handlerType"), str),
    "groups": list,
    "incognito": bool,
}
"""Required fields of node-tak's ``Subscription`` (lib/api/subscriptions.ts), a representative set."""


def conforms(value: Any, schema: Schema) -> None:
    """``value`` has every field of ``schema`` with the type the client's schema says."""
    assert isinstance(value, dict), value
    for name, kind in schema.items():
        assert name in value, f"{name} missing from {sorted(value)}"
        assert isinstance(value[name], kind), f"{name}={value[name]!r} is not {kind}"


def only(response: httpx.Response) -> dict[str, Any]:
    """The one mission of a TAK Mission envelope, checked against node-tak's schema."""
    body = response.json()
    assert body["version"] == "3"
    assert body["type"] == "Mission"
    assert isinstance(body["nodeId"], str)
    assert len(body["data"]) == 1, body
    mission: dict[str, Any] = body["data"][0]
    conforms(mission, NODE_TAK_MISSION)
    return mission

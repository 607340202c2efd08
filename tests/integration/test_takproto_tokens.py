"""A ``/takproto/1`` WebSocket a bearer token opened on the plain API port ends when the token
expires, or when its user is disabled or given other groups, or a certificate of the user is
revoked. The server runs on a :class:`ManualClock`: expiry is reached by moving time on, and the
identity watch's next poll by moving it a second, never by waiting."""

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import pytest
import takproto
import websockets
from websockets.asyncio.client import ClientConnection, connect

from rallypoint.clock import ManualClock
from rallypoint.config import Settings
from rallypoint.http.marti.oauth import TOKEN_LIFETIME_S
from rallypoint.http.marti.token_sockets import TokenSockets
from rallypoint.server.server import Server
from tests.conftest import PkiFixture, RunningServer
from tests.integration.test_marti_api import https, tls_settings
from tests.interop.clients import pli_xml
from tests.waiting import EVENT_TIMEOUT_S, eventually

__all__ = ["tls_settings"]

PASSWORD = "correct horse"
WATCH_POLL_S = 1.0
"""More than the identity watch's poll interval: its next refresh is due after this."""


@pytest.fixture
async def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def manual_server(
    tls_settings: Settings, pki: PkiFixture, clock: ManualClock
) -> AsyncIterator[RunningServer]:
    server = Server(tls_settings, clock=clock)
    ports = await server.start()
    try:
        yield RunningServer(server, ports)
    finally:
        await server.stop()


async def token_of(server: RunningServer, pki: PkiFixture, name: str) -> str:
    """A token for ``name`` from ``/oauth/token``, as node-tak and CloudTAK log in."""
    login = {"grant_type": "password", "username": name, "password": PASSWORD}
    async with https(server, pki, pki.add_user(f"gateway-{name}", "gateways")) as client:
        return str((await client.post("/oauth/token", params=login)).json()["access_token"])


@asynccontextmanager
async def token_socket(server: RunningServer, token: str) -> AsyncIterator[ClientConnection]:
    url = f"ws://127.0.0.1:{server.ports.api_plain}/takproto/1"
    async with connect(url, additional_headers={"Authorization": f"Bearer {token}"}) as socket:
        yield socket


async def routes(server: RunningServer, socket: ClientConnection, uid: str) -> None:
    """The socket is open and let in: a frame it sends reaches the router."""
    report = pli_xml(uid, uid, stale_s=2 * TOKEN_LIFETIME_S)  # not stale after the clock moved on
    await socket.send(takproto.xml2proto(report, takproto.TAKProtoVer.STREAM))
    await eventually(lambda: server.server.context.router.cache.get(uid) is not None)


def sockets_of(server: RunningServer) -> TokenSockets:
    api = server.server._api
    assert api is not None
    return api.token_sockets


async def closed_code(socket: ClientConnection) -> int | None:
    """The close code, once the server ended the socket (what it still sent before is skipped)."""

    async def drain() -> None:
        while True:
            await socket.recv()

    with pytest.raises(websockets.ConnectionClosed) as closed:
        await asyncio.wait_for(drain(), EVENT_TIMEOUT_S)
    return None if closed.value.rcvd is None else closed.value.rcvd.code


async def test_the_socket_ends_when_its_token_expires(
    manual_server: RunningServer, pki: PkiFixture, clock: ManualClock
) -> None:
    pki.store.add_user("alice", PASSWORD, ["ops"])
    token = await token_of(manual_server, pki, "alice")
    async with token_socket(manual_server, token) as web:
        await routes(manual_server, web, "ALICE-1")
        clock.advance(TOKEN_LIFETIME_S - 60)
        await routes(manual_server, web, "ALICE-2")
        watched_before = len(sockets_of(manual_server))
        clock.advance(60)
        code = await closed_code(web)
    counters = manual_server.server.context.counters
    assert watched_before == 1, "a minute before expiry the socket is open and watched"
    assert code == 1008
    assert counters.get("websocket_dropped{reason=identity}") == 1
    assert len(sockets_of(manual_server)) == 0


def disable(pki: PkiFixture) -> None:
    pki.store.set_disabled("alice", True)


def regroup(pki: PkiFixture) -> None:
    pki.store.set_groups("alice", ["other"])


def revoke(pki: PkiFixture) -> None:
    pki.store.revoke("alice", datetime.now(UTC))


@pytest.mark.parametrize("change", [disable, regroup, revoke])
async def test_the_socket_ends_when_its_user_no_longer_holds(
    manual_server: RunningServer, pki: PkiFixture, clock: ManualClock, change: Callable[[PkiFixture], None]
) -> None:
    pki.store.add_user("alice", PASSWORD, ["ops"])
    pki.issue("alice")
    pki.store.add_user("bob", PASSWORD, ["ops"])
    alice_token, bob_token = (
        await token_of(manual_server, pki, "alice"),
        await token_of(manual_server, pki, "bob"),
    )
    async with (
        token_socket(manual_server, alice_token) as web,
        token_socket(manual_server, bob_token) as other,
    ):
        await routes(manual_server, web, "ALICE-1")
        await routes(manual_server, other, "BOB-1")
        change(pki)
        clock.advance(WATCH_POLL_S)
        code = await closed_code(web)
        await routes(manual_server, other, "BOB-2")
    assert code == 1008

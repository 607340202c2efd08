"""``wss://HOST:8443/takproto/1`` on a real server over mutual TLS: frames made and read by
takproto (pytak's encoder, not ours) pass between a WebSocket client and a TLS stream client
of the same group, another group hears nothing, and broken frames close the socket."""

import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import pytest
import takproto
import websockets
from websockets.asyncio.client import ClientConnection, connect

from tests.conftest import Credentials, PkiFixture, RunningServer, TlsClients
from tests.integration.test_marti_api import https, tls_settings
from tests.interop.clients import eventually, has_uid, pli_xml
from tests.interop.pytak_tools import pytak, pytak_until, running_pytak
from tests.waiting import EVENT_TIMEOUT_S

__all__ = ["tls_settings"]


@asynccontextmanager
async def websocket(
    server: RunningServer, pki: PkiFixture, who: Credentials | None
) -> AsyncIterator[ClientConnection]:
    context: ssl.SSLContext = pki.client_context(who)
    url = f"wss://127.0.0.1:{server.ports.api_tls}/takproto/1"
    async with connect(url, ssl=context, open_timeout=EVENT_TIMEOUT_S, max_size=2**20) as socket:
        yield socket


async def frame_with_uid(socket: ClientConnection, uid: str) -> str:
    """The XML of the first frame whose event is ``uid`` (decoded by takproto)."""
    while True:
        data = await socket.recv(decode=False)
        message = takproto.parse_proto(data)
        if message.cotEvent.uid == uid:
            return str(message.cotEvent.type)


async def test_a_websocket_session_exchanges_frames_with_its_groups(
    tls_server: RunningServer, pki: PkiFixture
) -> None:
    router = tls_server.server.context.router
    alice, bob, eve = pki.add_user("alice", "ops"), pki.add_user("bob", "ops"), pki.add_user("eve", "other")
    async with https(tls_server, pki, alice) as client:
        index = await client.get("/")
    async with TlsClients(tls_server, pki) as clients:
        stream = await clients.connect(bob)
        await stream.send(pli_xml("BOB", "Bob"))
        await eventually(lambda: router.cache.get("BOB") is not None)
        async with websocket(tls_server, pki, alice) as web, websocket(tls_server, pki, eve) as outsider:
            replayed = await frame_with_uid(web, "BOB")  # the current picture on connect
            await web.send(takproto.xml2proto(pli_xml("ALICE-WEB", "AliceWeb"), takproto.TAKProtoVer.STREAM))
            seen = await stream.receive(has_uid("ALICE-WEB"))
            await stream.send(pli_xml("BOB-2", "Bob two"))
            live = await frame_with_uid(web, "BOB-2")
            await outsider.send(takproto.xml2proto(pli_xml("EVE-WEB", "Eve"), takproto.TAKProtoVer.STREAM))
            await eventually(lambda: router.cache.get("EVE-WEB") is not None)
            await stream.send(pli_xml("BOB-3", "Bob three"))
            await frame_with_uid(web, "BOB-3")
    assert index.status_code == 200
    assert "JSESSIONID" in index.cookies
    assert replayed == live == "a-f-G-U-C"
    assert seen.callsign == "AliceWeb"
    assert not stream.seen(has_uid("EVE-WEB")), "another group's socket reaches no one here"
    assert tls_server.server.context.counters.get("websocket_sessions") == 2


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        (b"<event/>", 1007),
        (b"\xbf\x05abc", 1007),
        (b"\xbf\xff\xff\xff\x7f" + b"\0" * 10, 1009),
    ],
)
async def test_broken_frames_close_the_socket(
    tls_server: RunningServer, pki: PkiFixture, frame: bytes, code: int
) -> None:
    async with websocket(tls_server, pki, pki.add_user("mallory", "ops")) as web:
        await web.send(frame)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await web.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == code


async def test_without_a_certificate_there_is_no_websocket(
    tls_server: RunningServer, pki: PkiFixture
) -> None:
    with pytest.raises((ssl.SSLError, OSError, websockets.InvalidHandshake)):
        async with websocket(tls_server, pki, None):
            pass


@pytest.mark.filterwarnings(
    r"ignore:ssl.OP_NO_SSL\*/ssl.OP_NO_TLS\* options are deprecated:DeprecationWarning"
)
async def test_pytak_streams_over_the_websocket(tls_server: RunningServer, pki: PkiFixture) -> None:
    sender, viewer_user = pki.add_user("pytak-ws", "ops"), pki.add_user("viewer", "ops")
    config = {
        "COT_URL": f"wss://127.0.0.1:{tls_server.ports.api_tls}/takproto/1",
        "PYTAK_TLS_CLIENT_CERT": str(sender.certificate),
        "PYTAK_TLS_CLIENT_KEY": str(sender.key),
        "PYTAK_TLS_CLIENT_CAFILE": str(pki.ca_file),
        "PYTAK_NO_HELLO": "1",
    }
    async with TlsClients(tls_server, pki) as clients:
        viewer = await clients.connect(viewer_user)
        async with running_pytak("pytak-ws", config) as tool:
            await tool.tx_queue.put(pytak.gen_cot(lat=1.5, lon=2.5, uid="PYTAK-WS", callsign="WS", stale=120))
            seen = await viewer.receive(has_uid("PYTAK-WS"))
            await viewer.send(pli_xml("VIEWER", "Viewer"))
            heard = await pytak_until(tool, lambda event: event.get("uid") == "VIEWER")
    assert (seen.lat, seen.lon, seen.callsign) == (1.5, 2.5, "WS")
    assert heard[-1].get("type") == "a-f-G-U-C"


async def test_a_bearer_token_opens_the_websocket_on_the_plain_port(
    tls_server: RunningServer, pki: PkiFixture
) -> None:
    """CloudTAK's way: a token from ``/oauth/token``, then the socket; without one it is refused."""
    pki.store.add_user("alice", "correct horse", ["ops"])
    login = {"grant_type": "password", "username": "alice", "password": "correct horse"}
    async with https(tls_server, pki, pki.add_user("gateway", "ops")) as client:
        token = (await client.post("/oauth/token", params=login)).json()["access_token"]
    url = f"ws://127.0.0.1:{tls_server.ports.api_plain}/takproto/1"
    router = tls_server.server.context.router
    async with connect(url, additional_headers={"Authorization": f"Bearer {token}"}) as web:
        await web.send(takproto.xml2proto(pli_xml("ALICE-TOKEN", "Alice"), takproto.TAKProtoVer.STREAM))
        await eventually(lambda: router.cache.get("ALICE-TOKEN") is not None)
        entry = router.cache.get("ALICE-TOKEN")
    async with connect(url) as anonymous:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await anonymous.recv()
    assert entry is not None
    assert entry.groups == frozenset({"ops"})
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1008


async def test_revoking_the_certificate_ends_the_socket(tls_server: RunningServer, pki: PkiFixture) -> None:
    """A socket has no next request to be refused at: the identity watch ends it."""
    router = tls_server.server.context.router
    alice, bob = pki.add_user("alice", "ops"), pki.add_user("bob", "ops")
    async with websocket(tls_server, pki, alice) as web, websocket(tls_server, pki, bob) as other:
        await web.send(takproto.xml2proto(pli_xml("ALICE-WEB", "Alice"), takproto.TAKProtoVer.STREAM))
        await eventually(lambda: router.cache.get("ALICE-WEB") is not None)
        pki.store.revoke("alice", datetime.now(UTC))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await frame_with_uid(web, "never")
        await other.send(takproto.xml2proto(pli_xml("BOB-WEB", "Bob"), takproto.TAKProtoVer.STREAM))
        await eventually(lambda: router.cache.get("BOB-WEB") is not None)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1008
    assert tls_server.server.context.counters.get("websocket_dropped{reason=identity}") == 1

"""Hostile or broken pages on the live socket, and a browser that stops reading."""

import asyncio
import json
from collections.abc import Callable

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from rallypoint.http.command_post.live import LiveHub
from rallypoint.server.web import WebService
from tests.conftest import RunningServer
from tests.interop.clients import TakClient, eventually, has_uid, pli_xml
from tests.web.conftest import TIMEOUT, Browser


async def close_code(browser: Browser, send: str | bytes | None, **headers: str) -> int | None:
    """Open the live socket, send ``send`` after the snapshot, and return the server's close code."""
    async with browser.live(**headers) as live:
        try:
            if send is not None:
                await live.receive(lambda m: m["type"] == "snapshot")
                await live.socket.send(send)
            async with asyncio.timeout(TIMEOUT):
                async for _ in live.socket:
                    pass
        except ConnectionClosed:
            pass
        assert live.socket.close_code is not None
        return live.socket.close_code


async def test_unauthenticated_socket_is_closed_4401(browsers: Callable[[], Browser]) -> None:
    assert await close_code(browsers(), None) == 4401


async def test_cross_origin_socket_is_closed_4403(browsers: Callable[[], Browser]) -> None:
    browser = browsers()
    await browser.login("alice")
    assert await close_code(browser, None, Origin="https://evil.example") == 4403


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ("{not json", 1007),
        (json.dumps({"type": "chat", "text": "REST only"}), 1003),
        (b"\x00\x01binary", 1003),
        (json.dumps({"type": "ping", "pad": "x" * 10_000}), 1009),
    ],
)
async def test_bad_messages_close_the_socket_with_a_clear_code(
    browsers: Callable[[], Browser], payload: str | bytes, code: int
) -> None:
    browser = browsers()
    await browser.login("alice")
    assert await close_code(browser, payload) == code


async def test_pings_keep_the_socket_open(browsers: Callable[[], Browser]) -> None:
    """Pings are read and answered with nothing: the socket is still open for the next message,
    and a bad message after them is what closes it (messages are read in order)."""
    browser = browsers()
    await browser.login("alice")
    async with browser.live() as live:
        await live.receive(lambda m: m["type"] == "snapshot")
        for _ in range(3):
            await live.socket.send(json.dumps({"type": "ping"}))
        assert await live.settle(browser) == []
        assert live.socket.close_code is None
        await live.socket.send("{not json")
        with pytest.raises(ConnectionClosed):
            await live.receive(lambda m: False)
        assert live.socket.close_code == 1007
    assert [m["type"] for m in live.seen] == ["snapshot", "chat"]  # no answer to any ping


async def test_logout_closes_the_pages_sockets(browsers: Callable[[], Browser]) -> None:
    browser = browsers()
    await browser.login("alice")
    async with browser.live() as live:
        await live.receive(lambda m: m["type"] == "snapshot")
        await browser.post("/api/logout")
        with pytest.raises(ConnectionClosed):
            await live.receive(lambda m: False)
        assert live.socket.close_code == 4401


def web_hub(server: RunningServer) -> LiveHub:
    service = next(c for c in server.server.components if isinstance(c, WebService))
    return service.hub


async def test_a_slow_page_is_dropped_while_tak_clients_keep_being_served(
    web_server: RunningServer, browsers: Callable[[], Browser]
) -> None:
    hub = web_hub(web_server)
    hub.queue_max = 50
    browser = browsers()
    await browser.login("alice")
    sender = await TakClient.connect(web_server.ports.tcp, "sender")
    receiver = await TakClient.connect(web_server.ports.tcp, "receiver")
    port = web_server.ports.web
    headers = {"Origin": browser.origin, "Cookie": f"rp_session={browser.cookie}"}
    # A page that never reads: a tiny receive buffer and no recv() calls.
    async with connect(
        f"ws://127.0.0.1:{port}/api/live", additional_headers=headers, max_queue=1, close_timeout=1
    ) as stalled:
        await eventually(lambda: hub.socket_count == 1)
        filler = "x" * 8000
        for batch in range(60):  # up to ~10 MB of distinct contacts, far beyond the socket buffers
            for index in range(50):
                uid = f"FLOOD-{batch}-{index}"
                await sender.send(
                    pli_xml(uid, uid).replace(b"<uid ", f"<remarks>{filler}</remarks><uid ".encode())
                )
            await asyncio.sleep(0.05)  # pacing, so flushes fall between batches; nothing waits on it
            if hub.socket_count == 0:
                break
        await eventually(lambda: hub.socket_count == 0)
        await sender.send(pli_xml("AFTER", "AFTER"))
        await receiver.receive(has_uid("AFTER"))
        assert stalled.close_code is None or stalled.close_code != 1000
    counters = web_server.server.context.counters
    assert counters.get("web_live_closed{reason=slow}") == 1
    await sender.close()
    await receiver.close()

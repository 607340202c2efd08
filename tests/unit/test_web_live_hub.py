"""The web live feed's coalescing, driven by hand: the hub's task is not started and the test
calls ``flush`` where the task would, so what one coalescing period holds is exact."""

import asyncio
import json
from typing import Any

from rallypoint.http.command_post.auth import Session
from rallypoint.http.command_post.live import LiveHub, LiveSocket
from rallypoint.router.router import Router
from tests.interop.clients import chat_xml, pli_xml
from tests.unit.test_router import NOW, Client, _router, _submit
from tests.waiting import EVENT_TIMEOUT_S

ANON = frozenset({"__ANON__"})


async def _next(socket: LiveSocket) -> dict[str, Any]:
    async with asyncio.timeout(EVENT_TIMEOUT_S):
        text = await socket.next()
    assert text is not None
    message: dict[str, Any] = json.loads(text)
    return message


async def _drained(router: Router, sender: Client, socket: LiveSocket, marker: str) -> None:
    """Route a chat after what was sent before and read the page up to it: chats go out at
    once, so the hub has taken everything routed before it (positions then wait for a flush)."""
    _submit(router, sender, chat_xml("SENDER", "SENDER", marker))
    message = await _next(socket)
    assert (message["type"], message["message"]["text"]) == ("chat", marker)


async def test_positions_routed_between_two_flushes_reach_a_page_once() -> None:
    router = _router()
    hub = LiveHub(router, router.counters, lambda: NOW)
    socket = hub.attach(Session("session", "alice", ANON, "csrf", 0.0))
    assert (await _next(socket))["type"] == "snapshot"
    mover, sender = Client(router), Client(router)

    for step in range(20):
        _submit(router, mover, pli_xml("MOVER", "MOVER", lat=1.0 + step / 100))
    await _drained(router, sender, socket, "after the burst")
    assert not socket.queue, "positions wait for the flush"
    hub.flush()
    assert len(socket.queue) == 1, "twenty reports of one uid, one message"
    latest = await _next(socket)
    assert (latest["type"], latest["contact"]["uid"], latest["contact"]["lat"]) == ("contact", "MOVER", 1.19)

    hub.flush()
    assert not socket.queue, "nothing new, nothing sent"
    _submit(router, mover, pli_xml("MOVER", "MOVER", lat=2.0))
    await _drained(router, sender, socket, "one more")
    hub.flush()
    latest = await _next(socket)
    assert (latest["contact"]["uid"], latest["contact"]["lat"]) == ("MOVER", 2.0)
    assert not socket.queue

"""``GET /api/live``: the WebSocket a page keeps open for the live picture.

The handshake is accepted, then closed at once with a code the page can act on when the
request is not from this origin (:data:`~rallypoint.http.command_post.live.CLOSE_ORIGIN`) or carries no
live session (:data:`~rallypoint.http.command_post.live.CLOSE_UNAUTHENTICATED`): nothing is sent before
that. A logged-in page gets the snapshot, then the live messages its hub queues. The page may
only send ``{"type":"ping"}`` (which also keeps its session from going idle); anything else
closes the socket: binary or unknown messages with 1003, text that is not JSON with 1007.
Frames over the listener's size cap are closed by the WebSocket layer with 1009.
"""

import asyncio
import contextlib
import logging

from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from rallypoint.http.command_post.auth import SESSION_SCOPE_KEY, Session, SessionStore, same_origin
from rallypoint.http.command_post.chat_history import ChatHistory
from rallypoint.http.command_post.live import (
    CLOSE_BAD_DATA,
    CLOSE_ORIGIN,
    CLOSE_UNAUTHENTICATED,
    CLOSE_UNSUPPORTED,
    LiveHub,
    LiveSocket,
)
from rallypoint.http.common.query import parse_json

log = logging.getLogger(__name__)

CLOSE_TIMEOUT_S = 2.0
"""How long a close frame may wait behind a browser that stopped reading; then the connection
is dropped without it."""
LIVE_PATH = "/api/live"


def live_routes(hub: LiveHub, sessions: SessionStore, history: ChatHistory | None = None) -> list[BaseRoute]:
    """The one WebSocket route; its snapshot holds the recent chat ``history`` reads."""

    async def live(websocket: WebSocket) -> None:
        await websocket.accept()
        session = websocket.scope.get(SESSION_SCOPE_KEY)
        if not same_origin(websocket.scope):
            await _close(websocket, CLOSE_ORIGIN, "cross-origin socket refused")
            return
        if not isinstance(session, Session):
            await _close(websocket, CLOSE_UNAUTHENTICATED, "not logged in")
            return
        chat = await history(session) if history is not None else []
        socket = hub.attach(session, chat)
        try:
            code = await _serve(websocket, socket, sessions)
        finally:
            hub.detach(socket)
        if code is not None:
            await _close(websocket, code, "")

    return [WebSocketRoute(LIVE_PATH, live)]


async def _serve(websocket: WebSocket, socket: LiveSocket, sessions: SessionStore) -> int | None:
    """Write and read until either side ends; the close code to send, if the server ends it."""
    writer = asyncio.create_task(_write(websocket, socket))
    reader = asyncio.create_task(_read(websocket, socket, sessions))
    closing = asyncio.create_task(socket.closing.wait())
    tasks = (writer, reader, closing)
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, OSError):
                await task
    if reader.done() and not reader.cancelled() and reader.exception() is None and reader.result():
        return None  # the browser closed
    return socket.close_code


async def _write(websocket: WebSocket, socket: LiveSocket) -> None:
    while (text := await socket.next()) is not None:
        await websocket.send_text(text)


async def _read(websocket: WebSocket, socket: LiveSocket, sessions: SessionStore) -> bool:
    """Read the page's messages; True when the browser closed, False when the server must."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return True
        text = message.get("text")
        if text is None:
            socket.close(CLOSE_UNSUPPORTED)
            return False
        try:
            value = parse_json(text.encode())
        except HTTPException:
            socket.close(CLOSE_BAD_DATA)
            return False
        if not isinstance(value, dict) or value.get("type") != "ping":
            socket.close(CLOSE_UNSUPPORTED)
            return False
        if sessions.get(socket.session.id) is None:
            socket.close(CLOSE_UNAUTHENTICATED)
            return False


async def _close(websocket: WebSocket, code: int, reason: str) -> None:
    try:
        await asyncio.wait_for(websocket.close(code, reason), CLOSE_TIMEOUT_S)
    except (TimeoutError, RuntimeError, OSError, WebSocketDisconnect):
        log.debug("live socket closed without a close frame (code %d)", code)

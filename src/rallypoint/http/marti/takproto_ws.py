"""``wss://HOST:8443/takproto/1``: TAK Server's web-client stream, a TAK protocol v1 session
over a WebSocket.

Each binary WebSocket message is one TAK stream frame (``0xbf``, the varint length, the
``TakMessage``), in both directions, as pytak's ``WSTXWorker``/``WSRXWorker`` and TAK Server's
load tool send and read them. The caller is the one the listener verified (the client
certificate on 8443, or a bearer token on the plain port), and the socket is one more
subscriber of the router in the caller's groups both ways, like a TLS stream of that user:
it is replayed the current picture on connect and is told what its groups are told. An
anonymous caller is refused. ``GET /`` answers a session cookie, which the load tool asks
for first; the WebSocket does not need it.

A frame that is not a whole TAK frame, or is larger than an event may be, closes the socket
(1007, 1009); so does a receiver that does not keep up (1013), after ``MAX_BACKLOG`` messages.
"""

import logging
import secrets
from collections.abc import Callable

import anyio
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from rallypoint.cot.framing import MAGIC, decode_varint
from rallypoint.cot.protobuf import proto_to_event
from rallypoint.cot.xml import XmlLimits
from rallypoint.errors import ProtocolError
from rallypoint.http.common.deps import CALLER_SCOPE_KEY, ApiDeps, Caller
from rallypoint.router.registry import Subscriber

log = logging.getLogger(__name__)

PATH = "/takproto/1"
TRANSPORT = "websocket"
MAX_BACKLOG = 4096
"""Messages waiting for one socket: a busy picture for a minute; a stalled reader is dropped."""
SESSION_COOKIE = "JSESSIONID"
CLOSE_POLICY = 1008
CLOSE_INVALID = 1007
CLOSE_TOO_BIG = 1009
CLOSE_TRY_LATER = 1013
IDENTITY_WATCH_SCOPE_KEY = "rallypoint.identity_watch"
"""Where the listener offers ``watch(lost) -> unwatch``: ``lost`` is called when the socket's
certificate is revoked, its token expires, or its user is disabled or regrouped."""


class BadFrame(ProtocolError):
    """A WebSocket message that is not one whole TAK stream frame."""

    reason = "bad_websocket_frame"


def frame_payload(frame: bytes, max_payload: int) -> bytes:
    """The ``TakMessage`` of one stream frame (sans-I/O: the socket's code calls this)."""
    if not frame or frame[0] != MAGIC:
        raise BadFrame("a TAK stream frame starts with 0xbf")
    length, start = decode_varint(frame, 1)
    if length > max_payload:
        raise BadFrame(f"payload of {length} bytes over the cap of {max_payload}")
    if start + length != len(frame):
        raise BadFrame("the frame's length does not match the WebSocket message")
    return frame[start:]


class TakProtoSocket:
    """The route's handlers, sharing the server's router and settings."""

    def __init__(self, deps: ApiDeps) -> None:
        self.deps = deps
        settings = deps.settings
        self.limits = XmlLimits(max_event_bytes=settings.max_event_bytes, max_depth=settings.max_xml_depth)

    async def index(self, request: Request) -> Response:
        """What the load tool fetches first: a page and a session cookie."""
        response = PlainTextResponse(self.deps.server_version)
        response.set_cookie(SESSION_COOKIE, secrets.token_urlsafe(18), secure=True, httponly=True)
        return response

    async def stream(self, websocket: WebSocket) -> None:
        caller = websocket.scope.get(CALLER_SCOPE_KEY)
        await websocket.accept()
        if not isinstance(caller, Caller) or caller.name is None:
            await websocket.close(CLOSE_POLICY, "a certificate or token is required")
            return
        ready = anyio.Event()
        wakes = [ready]

        def wake() -> None:
            wakes[0].set()

        subscriber = Subscriber(
            wake,
            transport=TRANSPORT,
            address=caller.address,
            in_groups=caller.groups,
            out_groups=caller.groups,
            identity=caller.name,
            owner=caller.name if self.deps.settings.anti_spoofing_tls else None,
            now_ms=self.deps.now_ms(),
        )
        router = self.deps.router
        router.attach(subscriber, self.deps.now_ms())
        self.deps.counters.inc("websocket_sessions")
        watch = websocket.scope.get(IDENTITY_WATCH_SCOPE_KEY)
        lost: list[bool] = []
        unwatch: list[Callable[[], None]] = []
        try:
            async with anyio.create_task_group() as tasks:

                def identity_lost() -> None:
                    lost.append(True)
                    tasks.cancel_scope.cancel()

                if watch is not None:
                    unwatch.append(watch(identity_lost))
                tasks.start_soon(self._send, websocket, subscriber, wakes, tasks.cancel_scope)
                code = await self._receive(websocket, subscriber)
                tasks.cancel_scope.cancel()
            if lost:
                self.deps.counters.inc("websocket_dropped{reason=identity}")
                await websocket.close(CLOSE_POLICY, "the certificate, token or user no longer holds")
            elif code is not None:
                await websocket.close(code)
        finally:
            for stop_watching in unwatch:
                stop_watching()
            router.detach(subscriber, self.deps.now_ms())

    async def _receive(self, websocket: WebSocket, subscriber: Subscriber) -> int | None:
        """Route each frame as from ``subscriber``; the close code when the client broke a rule."""
        max_payload = self.deps.settings.max_event_bytes
        while True:
            try:
                message = await websocket.receive_bytes()
            except (WebSocketDisconnect, KeyError, RuntimeError):
                return None  # closed, or a text message (no "bytes"): the client is done
            try:
                payload = frame_payload(message, max_payload)
                event = proto_to_event(payload, self.limits)
            except BadFrame as exc:
                log.info("websocket of %s closed: %s", subscriber.identity, exc)
                return CLOSE_TOO_BIG if "over the cap" in str(exc) else CLOSE_INVALID
            except ProtocolError as exc:
                self.deps.counters.inc(f"rejected{{reason={exc.reason}}}")
                continue
            if event is not None:
                self.deps.counters.inc(f"events_in{{transport={TRANSPORT},format=protobuf}}")
                now = self.deps.now_ms()
                self.deps.router.submit(subscriber, event, None, now, original_protobuf=payload)

    async def _send(
        self, websocket: WebSocket, subscriber: Subscriber, wakes: list[anyio.Event], scope: anyio.CancelScope
    ) -> None:
        """Write what the router handed over, one frame per WebSocket message."""
        while True:
            await wakes[0].wait()
            wakes[0] = anyio.Event()
            batch, subscriber.pending = subscriber.pending, []
            if len(batch) > MAX_BACKLOG:
                self.deps.counters.inc("websocket_dropped{reason=backlog}")
                await websocket.close(CLOSE_TRY_LATER, "not keeping up")
                scope.cancel()
                return
            for message in batch:
                await websocket.send_bytes(message.protobuf)


def takproto_routes(deps: ApiDeps) -> list[BaseRoute]:
    handlers = TakProtoSocket(deps)
    return [Route("/", handlers.index, methods=["GET"]), WebSocketRoute(PATH, handlers.stream)]

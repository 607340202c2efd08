"""What the HTTP API needs from the running server, and who is calling.

The API layer may not import ``net`` (layering), so the listener hands it a small typed
bundle (:class:`ApiDeps`) and binds each request to a :class:`Caller` taken from the TLS
certificate (port 8443) or the anonymous group (plain port). Handlers read the caller with
:func:`caller_of`; a request that reaches a handler without one is refused (deny by default).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from rallypoint.config import Settings
from rallypoint.cot.event import Event
from rallypoint.router.registry import ANONYMOUS_GROUP
from rallypoint.router.router import Router
from rallypoint.router.stats import Counters
from rallypoint.store.base import Store

CALLER_SCOPE_KEY = "rallypoint.caller"
"""Where the listener puts the :class:`Caller` in each request's ASGI scope."""

API_VERSION = "3"
"""The Marti API level TAK Server reports (tak.server.Constants.API_VERSION)."""


ADMIN_GROUP = "admin"
"""Members of this group administer the server: users and certificates on the command post,
and TAK Server's admin-only Marti calls (injectors, the repeat period)."""


class Caller(NamedTuple):
    """Who sent a request: the certificate's user and groups, or the anonymous group."""

    name: str | None
    """The user name from the verified client certificate; None on the plain port."""
    groups: frozenset[str]
    transport: str
    """``https`` (mutual TLS) or ``http`` (plain port): a label for counters."""
    address: str = ""


def anonymous(transport: str = "http", address: str = "") -> Caller:
    """A caller on the plain port: in the ``__ANON__`` group, like plain streaming clients."""
    return Caller(None, frozenset({ANONYMOUS_GROUP}), transport, address)


def caller_of(request: Request) -> Caller:
    """The caller the listener bound to this request (401 if none was: never guess)."""
    caller = request.scope.get(CALLER_SCOPE_KEY)
    if not isinstance(caller, Caller):
        raise HTTPException(401, "no authenticated caller")
    return caller


def require_admin(caller: Caller, what: str) -> None:
    """403 unless ``caller`` is a named member of :data:`ADMIN_GROUP` (``what`` says what it asked)."""
    if caller.name is None or ADMIN_GROUP not in caller.groups:
        raise HTTPException(403, f"only members of the {ADMIN_GROUP!r} group may {what}")


def client_address(scope: Scope) -> str:
    """``host:port`` of the peer, from the ASGI scope."""
    client = scope.get("client")
    return f"{client[0]}:{client[1]}" if client else ""


def with_caller(app: ASGIApp, caller: Callable[[Scope], Caller]) -> ASGIApp:
    """Wrap ``app`` so that every request carries the caller ``caller(scope)`` returns."""

    async def bound(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = {**scope, CALLER_SCOPE_KEY: caller(scope)}
        await app(scope, receive, send)

    return bound


Submit = Callable[[Caller, Event, bytes], int]
"""Route an event as if ``caller`` had sent it on a stream; returns how many clients got it."""


@dataclass(frozen=True)
class ApiDeps:
    """The parts of the running server the HTTP API reads or calls."""

    router: Router
    counters: Counters
    settings: Settings
    server_version: str
    """The text version, e.g. ``Rallypoint 0.4.0``."""
    submit: Submit
    now_ms: Callable[[], int]
    """Wall-clock milliseconds since the epoch on the server's clock (stale times are compared with it)."""
    store: Callable[[], Store | None] | None = None
    """Returns the open store, or None while it is closed. None: this server keeps no history."""
    queue_depth: Callable[[], int] = lambda: 0
    """Messages waiting in all client outboxes (for /metrics)."""
    faults: Callable[[], list[str]] = lambda: []
    """Why the server is degraded now (a failing store, …); empty when all is well (for /health)."""


def envelope(type_name: str, data: Any, node_id: str) -> dict[str, Any]:
    """TAK Server's JSON envelope (``ApiResponse``, reference §4.1)."""
    return {"version": API_VERSION, "type": type_name, "data": data, "nodeId": node_id}

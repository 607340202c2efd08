"""Who calls on the plain API port (8080): anonymous, or the user of a bearer token of ours.

A token is checked at each request against the server's clock and the identity store (its
user must exist and be enabled; the groups are the user's at that request). A WebSocket a
token opened has no next request, so its handler is offered a watch
(:data:`~rallypoint.http.marti.takproto_ws.IDENTITY_WATCH_SCOPE_KEY`) by
:class:`~rallypoint.http.marti.token_sockets.TokenSockets`, which ends it when the token
expires or its user no longer holds.
"""

import logging
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from rallypoint.errors import PkiError
from rallypoint.http.common.deps import CALLER_SCOPE_KEY, anonymous, client_address
from rallypoint.http.marti.oauth import Bearer, TokenKey, bearer_caller
from rallypoint.http.marti.takproto_ws import IDENTITY_WATCH_SCOPE_KEY
from rallypoint.http.marti.token_sockets import TokenSockets
from rallypoint.pki.identities import IdentityStore
from rallypoint.transport.context import ServerContext

log = logging.getLogger(__name__)


def bearer_of(context: ServerContext, key: TokenKey | None, scope: Scope) -> Bearer | None:
    """The bearer token of ours the request carries, for an enabled user (None: anonymous)."""
    if key is None or context.identities is None:
        return None
    header = dict(scope.get("headers") or ()).get(b"authorization")
    authorization = header.decode("latin-1") if header is not None else None
    now_s = context.clock.wall_ms() // 1000
    try:
        return bearer_caller(key, context.identities, authorization, client_address(scope), now_s)
    except PkiError as exc:  # the identity store cannot be read: no one is vouched for
        log.warning("cannot check a bearer token: %s", exc)
        return None


def revoked_of(identities: IdentityStore | None) -> Callable[[str], frozenset[int]]:
    """The serials of a user's revoked certificates, read from ``identities``."""

    def revoked(name: str) -> frozenset[int]:
        if identities is None:
            return frozenset()
        return frozenset(c.serial for c in identities.certificates(name) if c.revoked_at is not None)

    return revoked


def plain_app(app: ASGIApp, context: ServerContext, key: TokenKey | None, sockets: TokenSockets) -> ASGIApp:
    """``app`` with each request's caller bound: anonymous or its token's user; a WebSocket a
    token opened is watched by ``sockets`` until it ends."""

    async def bound(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            bearer = bearer_of(context, key, scope)
            caller = anonymous("http", client_address(scope)) if bearer is None else bearer.caller
            scope = {**scope, CALLER_SCOPE_KEY: caller}
            if bearer is not None and scope["type"] == "websocket":
                scope[IDENTITY_WATCH_SCOPE_KEY] = lambda lost: sockets.watch(
                    bearer.caller, bearer.expires_ms, lost
                )
        await app(scope, receive, send)

    return bound

"""The Marti API listeners: HTTPS with client certificates (8443) and optional plain HTTP (8080).

uvicorn serves the application inside our event loop, but it does not tell an ASGI app who
the TLS peer is (its scope has no certificate). So on 8443 we do what ``net.tls`` does for
8089: accept TCP connections ourselves, run each handshake in a task we own against the same
SSL context (our CA, the current CRL, client certificate required), ask the identity store
for its verdict with the same :func:`~rallypoint.transport.handshake.identify`, and only then give the
verified TLS transport to a uvicorn HTTP protocol object whose ASGI app is bound to that
identity (``protocol.app``). uvicorn's server owns those connections from there (keep-alive,
concurrency limit, graceful shutdown) as if it had accepted them. Between requests of one
keep-alive connection the identity is looked up again whenever the identity store changed,
so a revoked certificate or a disabled user is refused at its next request. New handshakes
use the CRL the process's identity watch re-signed.

The plain port is uvicorn's own listening socket; every request on it is anonymous, in the
``__ANON__`` group, like plain streaming clients, unless it carries a bearer token of ours
(:mod:`rallypoint.server.api_plain`).
"""

import asyncio
import logging
import socket
import ssl
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import h11
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from rallypoint.cot.framing import MAX_STREAM_HEADER
from rallypoint.errors import PkiError
from rallypoint.http.common.deps import CALLER_SCOPE_KEY, Caller
from rallypoint.http.marti.app import build_api_app
from rallypoint.http.marti.certadmin import certadmin_routes
from rallypoint.http.marti.oauth import TokenKey, auth_routes
from rallypoint.http.marti.takproto_ws import IDENTITY_WATCH_SCOPE_KEY
from rallypoint.http.marti.token_sockets import TokenSockets
from rallypoint.server.api_plain import plain_app, revoked_of
from rallypoint.server.api_wiring import api_deps
from rallypoint.transport.context import ServerContext
from rallypoint.transport.embedded import (
    EmbeddedServer,
    embedded_config,
    listening_socket,
    start_serving,
    stop_serving,
)
from rallypoint.transport.handshake import (
    Refused,
    TlsAcceptor,
    Verified,
    fresh_ssl_context,
    identify,
    server_ssl_context,
    verified_handshake,
)
from rallypoint.transport.http_guard import ConnectionGuard, guarded
from rallypoint.transport.stream import Identity, peer_address
from rallypoint.transport.tls import LISTEN_BACKLOG

log = logging.getLogger(__name__)

PER_ADDRESS = "per_address"
MAX_HTTP_CONNECTIONS = 1024
"""Connections and requests served at once on both ports; beyond it uvicorn answers 503."""


def _upgrades_keeping_identity(base: type[H11Protocol]) -> type[H11Protocol]:
    """``base``, whose WebSocket upgrades keep the connection's app (and so its verified
    identity): uvicorn would hand an upgraded connection to the server's own app, the plain
    port's, where the certificate is unknown."""

    class KeepingIdentity(base):  # type: ignore[misc, valid-type]
        def handle_websocket_upgrade(self, event: h11.Request) -> None:
            self.connections.discard(self)
            lines = [event.method, b" ", event.target, b" HTTP/1.1\r\n"]
            for name, value in self.headers:
                lines += [name, b": ", value, b"\r\n"]
            lines.append(b"\r\n")
            protocol = self.ws_protocol_class(
                config=self.config, server_state=self.server_state, app_state=self.app_state
            )
            protocol.app = self.app
            protocol.connection_made(self.transport)
            self.transport.set_protocol(protocol)
            protocol.data_received(b"".join(lines))

    return KeepingIdentity


class _Connection:
    """The ASGI app of one verified TLS connection: each request carries its identity."""

    def __init__(
        self,
        app: ASGIApp,
        listener: "ApiTlsListener",
        tls: asyncio.Transport,
        identity: Identity,
        revision: int,
    ) -> None:
        self.app = app
        self.listener = listener
        self.ssl_object: ssl.SSLObject = tls.get_extra_info("ssl_object")
        self.address = peer_address(tls)
        self.identity = identity
        self.revision = revision
        """The identity store's revision ``identity`` was read at."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            identity = self.listener.current_identity(self)
        except Refused as refused:
            self.listener.refuse(
                self.address,
                refused.reason,
                str(refused),
                refused.user,
                refused.serial,
                kind="request_refused",
            )
            await JSONResponse({"error": str(refused), "status": 403}, status_code=403)(scope, receive, send)
            return
        except PkiError as exc:
            log.warning("cannot read the identity store: %s", exc)
            body = {"error": "identity store unavailable", "status": 503}
            await JSONResponse(body, status_code=503)(scope, receive, send)
            return
        caller = Caller(identity.name, identity.groups, "https", self.address)
        scope = {**scope, CALLER_SCOPE_KEY: caller}
        if scope["type"] == "websocket":
            scope[IDENTITY_WATCH_SCOPE_KEY] = lambda lost: self.listener.watch_socket(self, identity, lost)
        await self.app(scope, receive, send)


class ApiTlsListener:
    """Port 8443: accepts, verifies as :mod:`rallypoint.transport.tls` does, hands over to uvicorn."""

    def __init__(self, context: ServerContext, app: ASGIApp, server: EmbeddedServer) -> None:
        assert context.authority is not None
        assert context.identities is not None
        assert context.identity_watch is not None
        self.context = context
        self.authority = context.authority
        self.app = app
        self.server = server
        self.store = context.identities
        self._acceptor = TlsAcceptor(
            "api", self._admit, self._handshake, self.refuse, lambda: context.counters.inc("accept_failed")
        )
        self.ssl_context = server_ssl_context(self.authority)
        self.guard = _guard(context, "api_tls")
        self.protocol_class = _upgrades_keeping_identity(guarded(self.guard))
        self._handshaking: Counter[str] = Counter()
        """Handshakes in progress per client address."""
        """uvicorn's HTTP/1.1 protocol under the TLS port's own connection bounds."""
        self._sockets: dict[int, tuple[_Connection, Identity, Callable[[], None]]] = {}
        """Open WebSockets: a change of their identity (revoked, disabled, regrouped) ends them."""
        self._unsubscribe = context.identity_watch.on_crl(self._reload_crl)
        self._unwatch = context.identity_watch.subscribe(self._recheck_sockets)

    async def start(self, host: str, port: int) -> int:
        """Listen on ``host:port``; return the bound port."""
        return self._acceptor.start(listening_socket(host, port, "the Marti API (HTTPS)", LISTEN_BACKLOG))

    async def stop(self) -> None:
        """Stop accepting and abandon handshakes in progress (uvicorn closes the connections)."""
        await self._acceptor.stop()
        self._unsubscribe()
        self._unwatch()

    def watch_socket(
        self, connection: _Connection, identity: Identity, lost: Callable[[], None]
    ) -> Callable[[], None]:
        """Call ``lost`` when ``identity`` no longer holds for the socket; returns what unwatches."""
        key = id(lost)
        self._sockets[key] = (connection, identity, lost)

        def unwatch() -> None:
            self._sockets.pop(key, None)

        return unwatch

    def _recheck_sockets(self, snapshot: object) -> None:
        """The identity store changed: end each socket whose certificate or user no longer holds
        as it did at the upgrade (a long-lived socket has no next request to be refused at)."""
        for connection, identity, lost in list(self._sockets.values()):
            try:
                current = self.current_identity(connection)
            except (Refused, PkiError):
                lost()
                continue
            if current != identity:
                lost()

    def current_identity(self, connection: _Connection) -> Identity:
        """The connection's identity, looked up again if the identity store changed (or Refused).

        The store's revision is read at every request, not taken from the watch: a request is
        a moment of its own, and the very next one after a revocation is refused."""
        revision = self.store.revision()
        if revision != connection.revision:
            connection.identity = identify(self.store, connection.ssl_object)
            connection.revision = revision
        return connection.identity

    def _reload_crl(self) -> None:
        """The watch rewrote the CRL: new handshakes check against it."""
        self.ssl_context = fresh_ssl_context(self.authority, self.ssl_context, "API")

    def _admit(self, peer: str) -> tuple[str, str] | None:
        """One address may hold only so many handshakes at once (half-open ones included)."""
        host = peer.rsplit(":", 1)[0]
        limit = self.context.settings.http_max_connections_per_address
        if self._handshaking[host] >= limit:
            return (PER_ADDRESS, f"{host} already has {limit} handshakes in progress")
        self._handshaking[host] += 1
        return None

    async def _handshake(self, sock: socket.socket, peer: str) -> None:
        host = peer.rsplit(":", 1)[0]
        try:
            verified = await verified_handshake(sock, self.ssl_context, self.store)
        except Refused as refused:
            self.refuse(peer, refused.reason, str(refused), refused.user, refused.serial)
            return
        finally:
            self._handshaking[host] -= 1
            if self._handshaking[host] <= 0:
                del self._handshaking[host]
        self._take_over(verified)

    def _take_over(self, verified: Verified) -> None:
        """Give the verified connection to a uvicorn HTTP protocol bound to its identity."""
        tls, handover = verified.transport, verified.handover
        protocol = self.protocol_class(
            config=self.server.config,
            server_state=self.server.server_state,
            app_state=self.server.lifespan.state,
        )
        protocol.app = _Connection(self.app, self, tls, verified.identity, verified.revision)
        tls.set_protocol(protocol)
        protocol.connection_made(tls)
        for data in handover.received:
            protocol.data_received(data)
        if handover.lost:
            protocol.connection_lost(handover.error)

    def refuse(
        self,
        peer: str,
        reason: str,
        detail: str,
        user: str | None = None,
        serial: int | None = None,
        *,
        kind: str = "handshake_refused",
    ) -> None:
        """Count, log and audit a client turned away (at the handshake, or at a request).

        A flood of connections from one address is counted and reported once a minute, not
        audited one by one: the audit trail must not grow with the attacker's effort."""
        if reason == PER_ADDRESS:
            self.guard.refuse(reason, detail, asyncio.get_running_loop().time())
            return
        self.context.counters.inc(f"api_refused{{reason={reason}}}")
        who = f" ({user})" if user else ""
        in_full = self.context.audit_refusal(
            kind, peer, reason, detail=detail, identity=user, serial=None if serial is None else f"{serial:x}"
        )
        log.log(
            logging.WARNING if in_full else logging.DEBUG,
            "API client %s%s refused: %s: %s",
            peer,
            who,
            reason,
            detail,
        )


def _guard(context: ServerContext, port: str) -> ConnectionGuard:
    return ConnectionGuard.for_port(port, MAX_HTTP_CONNECTIONS, context.settings, context.counters)


class ApiService:
    """The running API listeners; :meth:`close` stops them."""

    def __init__(
        self,
        server: EmbeddedServer,
        task: "asyncio.Task[None]",
        tls: ApiTlsListener | None,
        tls_port: int | None,
        plain_port: int | None,
        *,
        token_sockets: TokenSockets,
        unwatch: Callable[[], None],
    ) -> None:
        self._server = server
        self._task = task
        self._tls = tls
        self.tls_port = tls_port
        self.plain_port = plain_port
        self.token_sockets = token_sockets
        self._unwatch = unwatch

    def tick(self, now_ms: int) -> int | None:
        """The server timer's job: end the WebSockets whose token expired; the next expiry."""
        return self.token_sockets.tick(now_ms)

    async def close(self) -> None:
        """Stop accepting, let running requests finish (bounded), end uvicorn's task."""
        self._unwatch()
        if self._tls is not None:
            await self._tls.stop()
        await stop_serving(self._server, self._task)
        log.info("Marti API stopped")


def _wall_time(context: ServerContext) -> Callable[[], datetime]:
    return lambda: datetime.fromtimestamp(context.clock.wall_ms() / 1000, UTC)


async def start_marti_api(
    context: ServerContext,
    *,
    tls_port: int | None,
    plain_port: int | None,
    extra_routes: Sequence[BaseRoute] = (),
) -> ApiService:
    """Serve the API on the ports given (None: that port is off); return once both accept.

    Raises ConfigError if a port cannot be bound, PkiError if the TLS material is unusable.
    """
    settings = context.settings
    deps = api_deps(context)
    key: TokenKey | None = None
    if context.identities is not None and context.authority is not None:
        key = TokenKey.load_or_create(settings.data_dir, settings.server_id)
        admin = certadmin_routes(
            deps, context.identities, context.authority, context.audit, _wall_time(context)
        )
        extra_routes = [*auth_routes(deps, key, context.identities, context.authority), *admin, *extra_routes]
    app = build_api_app(deps, extra_routes)
    identities, watch = context.identities, context.identity_watch
    token_sockets = TokenSockets(revoked_of(identities))
    unwatch = watch.subscribe(token_sockets.recheck) if watch is not None else (lambda: None)
    plain = plain_app(app, context, key, token_sockets)
    config = embedded_config(
        plain,
        log_level=settings.log_level,
        http=guarded(_guard(context, "api_plain")),
        limit_concurrency=MAX_HTTP_CONNECTIONS,
        ws_max_size=settings.max_event_bytes + MAX_STREAM_HEADER,
    )
    config.load()
    sockets = [] if plain_port is None else [listening_socket(settings.host, plain_port, "the Marti API")]
    server, task = await start_serving(config, sockets, "rallypoint-api", f"the Marti API on {settings.host}")
    tls: ApiTlsListener | None = None
    bound_tls: int | None = None
    try:
        if tls_port is not None:
            tls = ApiTlsListener(context, app, server)
            bound_tls = await tls.start(settings.host, tls_port)
    except BaseException:
        unwatch()
        if tls is not None:
            await tls.stop()
        await stop_serving(server, task)
        raise
    bound_plain = sockets[0].getsockname()[1] if sockets else None
    log.info(
        "Marti API on%s%s",
        f" https/{bound_tls} (client certificates)" if bound_tls else "",
        f" http/{bound_plain} (anonymous)" if bound_plain else "",
    )
    return ApiService(server, task, tls, bound_tls, bound_plain, token_sockets=token_sockets, unwatch=unwatch)

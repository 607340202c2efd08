"""The web command post's listener (``web_port``), run by uvicorn inside the server's loop.

It wires the web application (:mod:`rallypoint.http.command_post.app`) to this server: the router and
store, the server's identity store for logins and its watch (a session ends when its user is
disabled or regrouped or its certificate revoked), the audit log,
the live hub fed by the router, the missions service's change listeners, and the same
``submit`` the Marti API routes events with. uvicorn runs with its sans-I/O WebSocket protocol
for ``/api/live``, frames capped at :data:`MAX_WS_FRAME_BYTES` (a page only sends pings).
With ``web_tls`` the port speaks HTTPS with the server certificate of our CA, and a browser
presenting a client certificate of ours is logged in by it (:mod:`rallypoint.server.web_certificates`).

The service is one of the server's components: ticked by the server's timer at the live feed's
coalescing period (coalesced reports go out, idle sessions end), stopped with the others.
"""

import asyncio
import dataclasses
import logging
import ssl
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.routing import BaseRoute
from uvicorn.protocols.http.h11_impl import H11Protocol

from rallypoint.cot.event import Event
from rallypoint.errors import ConfigError, StoreError
from rallypoint.http.command_post.admin import AdminDeps, ConnectPoints, admin_routes
from rallypoint.http.command_post.app import PACKAGED_UI, WebAppParts, build_web_app, tile_origin
from rallypoint.http.command_post.auth import Persistence, Session, SessionStore
from rallypoint.http.command_post.chat_history import chat_history
from rallypoint.http.command_post.data import TileConfig, data_routes
from rallypoint.http.command_post.drawings import drawing_routes
from rallypoint.http.command_post.live import LiveHub
from rallypoint.http.command_post.login import LoginService
from rallypoint.http.command_post.lost_records import LostKeeper, restore_lost
from rallypoint.http.command_post.packages import web_package_routes
from rallypoint.http.command_post.replay import replay_routes
from rallypoint.http.command_post.session_records import SessionRecords, session_records_path
from rallypoint.http.command_post.socket import live_routes
from rallypoint.http.command_post.tiles import TILE_URL, MbTiles, tile_routes
from rallypoint.http.common.ratelimit import LoginThrottle
from rallypoint.pki.authority import CertificateAuthority
from rallypoint.pki.identities import IdentitySnapshot
from rallypoint.pki.watch import IdentityWatch
from rallypoint.server.api import ApiService
from rallypoint.server.api_wiring import api_deps, package_deps
from rallypoint.server.components import Part, part_routes
from rallypoint.server.web_certificates import CertificateH11Protocol, certificate_user
from rallypoint.transport.context import ServerContext
from rallypoint.transport.embedded import (
    EmbeddedServer,
    embedded_config,
    listening_socket,
    start_serving,
    stop_serving,
)
from rallypoint.transport.handshake import TLS12_CIPHERS
from rallypoint.transport.http_guard import ConnectionGuard, guarded
from rallypoint.transport.stream import StreamConnection

log = logging.getLogger(__name__)

MAX_WS_FRAME_BYTES = 4096
"""Largest message a page may send on the live socket (pings are tens of bytes); over it: 1009."""
MAX_WEB_CONNECTIONS = 512
"""Connections and requests at once; beyond it uvicorn answers 503. A command post has a few pages."""
WS_PING_INTERVAL_S = 20.0
"""WebSocket pings from the server; a page that answers none for as long is dropped."""
SESSION_SWEEP_S = 60.0
"""How often idle sessions are deleted from the sessions file (in memory they end at each tick)."""


class WebService:
    """The running web listener, its live hub and its sessions (a server component)."""

    def __init__(
        self,
        server: EmbeddedServer,
        task: "asyncio.Task[None]",
        *,
        hub: LiveHub,
        sessions: SessionStore,
        port: int,
        tiles: MbTiles | None,
        watch: IdentityWatch,
    ) -> None:
        self._server = server
        self._task = task
        self.hub = hub
        self.sessions = sessions
        self.port = port
        self._tiles = tiles
        self._unsubscribe = watch.subscribe(self._revalidate)
        self._next_sweep = 0.0

    async def start(self) -> None:
        """Already started by :func:`start_web` (the component protocol's first call)."""

    def tick(self, now_ms: int) -> int:
        """End idle sessions; send the live feed's coalesced reports (due again at its period)."""
        self.sessions.expire()
        if self.sessions.clock() >= self._next_sweep:
            self._next_sweep = self.sessions.clock() + SESSION_SWEEP_S
            self.sessions.sweep_stored()
        return self.hub.tick(now_ms)

    def _revalidate(self, snapshot: IdentitySnapshot) -> None:
        """The identity store changed: end the sessions whose user was disabled, removed or
        regrouped, or whose certificate was revoked (their sockets close)."""
        ended = self.sessions.revalidate(lambda session: _still_valid(session, snapshot))
        if ended:
            log.info("web: %d sessions ended after a change of their users", ended)

    async def stop(self) -> None:
        """Close the pages' sockets, stop accepting, let requests finish (bounded)."""
        await self.hub.stop()
        if self.hub.keeper is not None:
            await self.hub.keeper.stop()  # before the store closes
        await stop_serving(self._server, self._task)
        if self._tiles is not None:
            self._tiles.close()
        self._unsubscribe()
        if self.sessions.persistence is not None:
            self.sessions.persistence.records.close()
        log.info("web command post stopped")


def _admin_deps(context: ServerContext, connect: ConnectPoints, throttle: LoginThrottle) -> AdminDeps:
    """The web admin's view of the identity store and the CA (loaded or created on first use),
    the device register, and this node's connections (to disconnect a device)."""
    settings = context.settings
    loaded: list[CertificateAuthority] = [context.authority] if context.authority is not None else []

    def authority(now: datetime) -> CertificateAuthority:
        if not loaded:
            loaded.append(CertificateAuthority.load_or_create(settings.data_dir, settings.hostname_list, now))
        return loaded[0]

    return AdminDeps(
        identities=context.identities,
        authority=authority,
        audit=context.audit,
        validity_days=settings.certificate_validity_days,
        now=lambda: datetime.fromtimestamp(context.clock.wall_ms() / 1000, UTC),
        router=context.router,
        disconnect=lambda uid: _disconnect(context, uid),
        connect=connect,
        throttle=throttle,
        clock=context.clock,
    )


def _disconnect(context: ServerContext, uid: str) -> int:
    """Close (flushing what is queued) this node's streaming connections bound to ``uid``."""
    bound = [
        connection
        for connection in list(context.connections)
        if isinstance(connection, StreamConnection)
        and connection.subscriber is not None
        and connection.subscriber.uid == uid
    ]
    for connection in bound:
        log.warning("%s (%s) disconnected from the command post", connection.peer, uid)
        connection.close()
    return len(bound)


async def start_web(
    context: ServerContext,
    parts: Sequence[Part],
    port: int,
    marti: ApiService | None,
    connect: ConnectPoints | None = None,
) -> WebService:
    """Serve the web command post on ``port``; return once it accepts connections.

    ``connect`` says where devices onboarded from the admin page connect (the bound TLS and
    enrollment ports and the server certificate's names; None: nowhere).

    Packages uploaded from the page are offered to TAK clients with a link to the ``marti``
    API (which they can download from); with no Marti API port open nothing is offered.
    Raises ConfigError when the port cannot be bound or a web setting is unusable.
    """
    settings = context.settings
    marti_url = _marti_url(context, marti)
    assert context.identity_watch is not None, "the server opens the identity store for the web port"
    watch = context.identity_watch
    persistence = Persistence(
        SessionRecords(session_records_path(Path(settings.data_dir))),
        context.clock.wall_ms,
        lambda session: _still_valid(session, watch.snapshot),
    )
    sessions = SessionStore(settings.web_session_idle_s, clock=context.clock, persistence=persistence)
    keeper = LostKeeper(lambda: context.store, context.counters)
    hub = LiveHub(
        context.router, context.counters, context.clock.wall_ms, settings.web_live_queue_max, keeper
    )
    if context.store is not None:
        try:
            restored = await restore_lost(hub.lost, context.store, context.xml_limits)
        except StoreError as exc:
            raise ConfigError(f"cannot read the lost units from the store: {exc}") from exc
        log.info("web: %d lost units restored", restored)
    for part in parts:  # the missions service's changes reach the pages
        if part.change_listeners is not None:
            part.change_listeners.append(hub.relay)
    tiles = MbTiles(Path(settings.web_mbtiles)) if settings.web_mbtiles else None
    assets = Path(settings.web_assets_dir) if settings.web_assets_dir else PACKAGED_UI
    identities = context.identities
    throttle = LoginThrottle(settings.enrollment_max_failures)
    login = LoginService(
        sessions,
        identities.authenticate if identities is not None else None,
        throttle,
        context.audit,
        clock=context.clock,
        certificate_user=certificate_user(lambda: context.identities, context.audit)
        if settings.web_tls
        else None,
    )
    api = api_deps(context)
    packages = package_deps(context)
    if marti_url is None:
        packages = dataclasses.replace(packages, announce=_no_announcement)
    else:
        packages = dataclasses.replace(
            packages, download_url=lambda _request, sha256: f"{marti_url}/Marti/sync/content?hash={sha256}"
        )
    tile_config = TileConfig(
        url=settings.web_tile_url or None,
        local=TILE_URL if tiles else None,
        attribution=settings.web_tile_attribution or (tiles.attribution if tiles else ""),
        local_info=tiles.info if tiles else None,
    )
    routes: list[BaseRoute] = [
        *login.routes(),
        *data_routes(api, hub, lambda: tile_config, context.audit),
        *drawing_routes(api, context.audit),
        *web_package_routes(packages),
        *replay_routes(api, context.xml_limits),
        *(tile_routes(tiles) if tiles else []),
        *live_routes(
            hub, sessions, chat_history(lambda: context.store, context.clock.wall_ms, context.xml_limits)
        ),
        *admin_routes(_admin_deps(context, connect or ConnectPoints(), throttle)),
        *part_routes(parts, command_post=True),
    ]
    app = build_web_app(WebAppParts(sessions, routes, assets, tile_origin(settings.web_tile_url)))
    guard = ConnectionGuard.for_port("web", MAX_WEB_CONNECTIONS, settings, context.counters)
    config = embedded_config(
        app,
        log_level=settings.log_level,
        limit_concurrency=MAX_WEB_CONNECTIONS,
        http=guarded(guard, CertificateH11Protocol if settings.web_tls else H11Protocol),
        ws="websockets-sansio",
        ws_max_size=MAX_WS_FRAME_BYTES,
        ws_per_message_deflate=False,
        ws_ping_interval=WS_PING_INTERVAL_S,
        ws_ping_timeout=WS_PING_INTERVAL_S,
        **_tls_options(context),
    )
    try:
        config.load()
    except OSError as exc:  # ssl.SSLError included
        raise ConfigError(f"cannot load the server certificate for the web port: {exc}") from exc
    if config.ssl is not None:
        config.ssl.minimum_version = ssl.TLSVersion.TLSv1_2
    sock = listening_socket(settings.host, port, "the web command post")
    what = f"the web command post on {settings.host}"
    server, task = await start_serving(config, [sock], "rallypoint-web", what)
    bound = int(sock.getsockname()[1])
    scheme = "https" if settings.web_tls else "http"
    log.info("web command post on %s://%s:%d/", scheme, _url_host(settings.host), bound)
    keeper.start()
    return WebService(server, task, hub=hub, sessions=sessions, port=bound, tiles=tiles, watch=watch)


def _still_valid(session: Session, snapshot: IdentitySnapshot) -> bool:
    user = snapshot.user(session.user)
    if user is None or user.disabled or user.groups != session.groups:
        return False
    return session.certificate is None or session.certificate not in snapshot.revoked


def _tls_options(context: ServerContext) -> dict[str, Any]:
    if not context.settings.web_tls:
        return {}
    assert context.authority is not None
    certfile, keyfile = context.authority.server_ssl_files()
    return {
        "ssl_certfile": str(certfile),
        "ssl_keyfile": str(keyfile),
        "ssl_ciphers": TLS12_CIPHERS,
        "ssl_cert_reqs": ssl.CERT_OPTIONAL,  # a browser certificate logs its user in; else a password
        "ssl_ca_certs": str(context.authority.paths.ca_cert),
    }


def _marti_url(context: ServerContext, marti: ApiService | None) -> str | None:
    """``https://<first hostname>:<port>`` of the Marti API (mTLS preferred), or None."""
    if marti is None:
        return None
    names = context.settings.hostname_list
    host = _url_host(names[0] if names else context.settings.host)
    if marti.tls_port is not None:
        return f"https://{host}:{marti.tls_port}"
    if marti.plain_port is not None:
        return f"http://{host}:{marti.plain_port}"
    return None


def _no_announcement(event: Event, groups: frozenset[str], identity: str | None) -> None:
    """No Marti API port is open: TAK clients could not download the file, so nothing is offered."""


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


__all__ = ["WebService", "start_web"]

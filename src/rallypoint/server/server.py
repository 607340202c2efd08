"""The running server: listeners, the one timer, and graceful shutdown.

The server owns one :class:`~rallypoint.server.timer.Timer` on one injectable
:class:`~rallypoint.clock.Clock` (tests pass a :class:`~rallypoint.clock.ManualClock` and move
time on): the tick (cache expiry, alert repetition, connection timeouts, retention), the identity
watch's refresh, the mailbox's expiry sweep and every component (each says when it is next due)
are jobs of it, run by the
one task the server owns. When TLS streaming, enrollment or the web port is on, start-up loads
(or creates) the certificate authority (when a TLS port needs it) and opens the identity store,
its watch and the audit log: one of each for the whole process, shared by every listener.
Before any listener opens, the store is opened and the situation cache rebuilt from it.

Start-up is all-or-nothing: if any step fails, :meth:`Server.start` stops what had started
(listeners closed, components stopped, store closed) before it raises. :meth:`Server.stop` is
the one place that orders shutdown: listeners, connections, the timer, the cluster bus (the
departures of the closed connections are published first), components, identities, mailbox, store.
"""

import asyncio
import functools
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from rallypoint.clock import Clock, SystemClock
from rallypoint.cluster.identities import SharedIdentities
from rallypoint.cluster.node import check_cluster_settings, node_name
from rallypoint.config import Settings
from rallypoint.cot import control
from rallypoint.errors import ConfigError, PkiError, StoreError
from rallypoint.federation.settings import load_federation
from rallypoint.http.command_post.admin_access import ConnectPoints
from rallypoint.http.marti.files import file_routes
from rallypoint.http.marti.packages import package_routes
from rallypoint.pki.audit import AuditLog
from rallypoint.pki.authority import CertificateAuthority
from rallypoint.pki.files import make_private_directory
from rallypoint.pki.identities import IdentityStore
from rallypoint.pki.paths import audit_path, identity_path
from rallypoint.pki.watch import IdentityWatch
from rallypoint.router.host import Component
from rallypoint.router.message import Outbound
from rallypoint.server.api import ApiService, start_marti_api
from rallypoint.server.api_wiring import package_deps
from rallypoint.server.components import build_host, build_parts, part_routes, stop_components
from rallypoint.server.enrollment import EnrollmentService, start_enrollment
from rallypoint.server.guide import BoundPorts, connection_guide
from rallypoint.server.identity_watch import identity_poll_s, refresh_identities
from rallypoint.server.persistence import EventRecorder, Retention, rebuild_cache, restore_injections
from rallypoint.server.timer import Timer
from rallypoint.server.web import start_web
from rallypoint.store import open_store
from rallypoint.tasks import TaskSet
from rallypoint.transport.context import ServerContext
from rallypoint.transport.datagram import DatagramInput, multicast_socket
from rallypoint.transport.stream import StreamConnection
from rallypoint.transport.tls import TlsListener

if TYPE_CHECKING:
    from rallypoint.cluster.bus import ClusterBus

log = logging.getLogger(__name__)

STORE_OFF = "off"
"""``store_url`` value that runs the server with no store at all (benchmarks, throwaway relays)."""

TICK_INTERVAL_S = 1.0
"""Timeouts and expiry are checked this often (stale times are in seconds anyway)."""

PING_CHECKS_PER_INTERVAL = 4
"""Silent connections are looked for this often per ``server_ping_interval_s`` (at most once per
tick): a keepalive leaves within a quarter interval of being due, and 20 000 connections are
walked every few seconds, not every second."""


def cluster_bus() -> "type[ClusterBus]":
    """The cluster bus class; imported only in cluster mode, so NATS stays an optional extra."""
    try:
        from rallypoint.cluster.bus import ClusterBus
    except ImportError as exc:
        raise ConfigError(f"cluster mode needs nats-py: pip install 'rallypoint[cluster]' ({exc})") from exc
    return ClusterBus


class Server:
    """Owns the listeners, the timer and the tasks of one Rallypoint process."""

    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.context = ServerContext.from_settings(settings, clock or SystemClock())
        self.timer = Timer(self.context.clock)
        self._tasks = TaskSet("server")
        self._tcp: asyncio.Server | None = None
        self._datagrams: list[asyncio.DatagramTransport] = []
        self._tls: TlsListener | None = None
        self._enrollment: EnrollmentService | None = None
        self._api: ApiService | None = None
        self._retention: Retention | None = None
        self.components: list[Component] = []
        self.cluster: ClusterBus | None = None
        """Cluster mode (``cluster_url``): this node's connection to the others."""
        self._stopped = asyncio.Event()

    async def start(self) -> BoundPorts:
        """Open every configured listener; return the bound ports.

        All or nothing: on any failure what had started is stopped again, then the error raised.
        """
        try:
            return await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _join_cluster(self, store_read_ms: int) -> None:
        """Connect this node to the cluster bus; server-sent mail crosses it both ways."""
        settings = self.settings
        self.cluster = cluster_bus()(
            self.context.router,
            cluster=settings.cluster_name,
            node=node_name(settings),
            urls=settings.cluster_url,
            limits=self.context.xml_limits,
            now_ms=self.context.clock.wall_ms,
        )
        identities, watch = self.context.identities, self.context.identity_watch
        if identities is not None and watch is not None:
            self.cluster.identities = SharedIdentities(
                identities,
                watch,
                journal=lambda: self.context.store,
                notices=self.context.notices,
                counters=self.context.counters,
                now_ms=self.context.clock.wall_ms,
            )
        self.cluster.notices = self.context.notices
        self.context.mailbox.relay = self.cluster.send_elsewhere
        self.cluster.deliver_to = functools.partial(self.context.mailbox.send_to, relayed=True)
        await self.cluster.start(store_read_ms)

    async def _start(self) -> BoundPorts:
        loop = asyncio.get_running_loop()
        settings = self.settings
        if settings.cluster_url:
            check_cluster_settings(settings)
        federation = load_federation(settings) if settings.federation_url else None
        store_read_ms = self.context.clock.wall_ms()
        certificate_ports = (settings.tls_port, settings.enrollment_port, settings.api_tls_port)
        needs_authority = any(port is not None for port in certificate_ports) or (
            settings.web_port is not None and settings.web_tls
        )
        if needs_authority or settings.web_port is not None:
            self._open_identities(with_authority=needs_authority)
        await self._open_store()
        if settings.cluster_url:  # before any client: what other nodes route from now on is seen
            await self._join_cluster(store_read_ms)
        self.context.mailbox.start()
        host = build_host(self.context)
        parts = build_parts(self.context, host, federation)
        for part in parts:
            await part.component.start()
            self.components.append(part.component)  # stopped by stop() from now on
        self._tcp = await loop.create_server(
            lambda: StreamConnection(self.context, "tcp"), settings.host, settings.tcp_port, backlog=4096
        )
        tcp_port = self._tcp.sockets[0].getsockname()[1]
        udp_port = None
        if settings.udp_port is not None:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: DatagramInput(self.context, "udp"), local_addr=(settings.host, settings.udp_port)
            )
            self._datagrams.append(transport)
            udp_port = transport.get_extra_info("sockname")[1]
        if settings.multicast_enabled:
            await self._start_multicast()
        tls_port = None
        if settings.tls_port is not None:
            self._tls = TlsListener(self.context)
            tls_port = await self._tls.start(settings.host, settings.tls_port)
        enrollment_port = None
        if settings.enrollment_port is not None:
            self._enrollment = await self._start_enrollment(settings.enrollment_port)
            enrollment_port = self._enrollment.port
        if settings.api_tls_port is not None or settings.api_plain_port is not None:
            self._api = await start_marti_api(
                self.context,
                tls_port=settings.api_tls_port,
                plain_port=settings.api_plain_port,
                extra_routes=[
                    *package_routes(package_deps(self.context)),
                    *file_routes(package_deps(self.context)),
                    *part_routes(parts),
                ],
            )
        web_port = None
        if settings.web_port is not None:  # a component, so that it is ticked and stopped with them
            connect = ConnectPoints(tuple(settings.hostname_list), tls_port, enrollment_port)
            web = await start_web(self.context, parts, settings.web_port, self._api, connect)
            self.components.append(web)
            web_port = web.port
        self._schedule()
        self._tasks.spawn(self.timer.run_forever(), name="rallypoint-timer")
        api = self._api
        ports = BoundPorts(
            tcp_port,
            udp_port,
            tls_port,
            enrollment_port,
            api.tls_port if api else None,
            api.plain_port if api else None,
            web_port,
        )
        for line in connection_guide(settings, ports):
            log.info("%s", line)
        return ports

    async def _start_enrollment(self, port: int) -> EnrollmentService:
        context = self.context
        assert context.authority is not None
        assert context.identities is not None
        assert context.audit_log is not None
        return await start_enrollment(
            context.authority,
            context.identities,
            context.audit_log,
            self.settings,
            host=self.settings.host,
            port=port,
            clock=context.clock,
            counters=context.counters,
        )

    def _open_identities(self, *, with_authority: bool) -> None:
        """Load or create the CA (if asked), open the process's one identity store, its watch and
        the audit log, and start the task that refreshes the watch (blocking, at start-up)."""
        data_dir = self.settings.data_dir
        context = self.context
        now = datetime.now(UTC)
        try:
            make_private_directory(data_dir)
            authority = (
                CertificateAuthority.load_or_create(data_dir, self.settings.hostname_list, now)
                if with_authority
                else None
            )
            context.identities = IdentityStore(identity_path(data_dir))
            context.identity_watch = IdentityWatch(context.identities, authority, now)
        except PkiError as exc:
            raise ConfigError(f"cannot set up the identities in {data_dir}: {exc}") from exc
        context.authority = authority
        context.audit_log = AuditLog(audit_path(data_dir))
        if authority is None:
            return
        log.info(
            "certificate authority %s; server certificate for %s",
            authority.paths.ca_cert,
            ", ".join(self.settings.hostname_list),
        )

    async def _open_store(self) -> None:
        """Open the store, refill the situation cache from it, and start recording routed events."""
        context = self.context
        if self.settings.store_url == STORE_OFF:
            log.warning("store off: routed events are not kept (no history, no restart picture)")
            return
        try:
            store = open_store(self.settings.effective_store_url, queue_max=self.settings.store_queue_max)
            await store.open()
            try:
                restored = await rebuild_cache(
                    context.router, store, context.clock.wall_ms(), context.xml_limits
                )
                injectors = await restore_injections(context.router, store)
            except StoreError:
                await store.close()
                raise
        except StoreError as exc:
            raise ConfigError(f"cannot open the store: {str(exc).splitlines()[0]}") from exc
        context.store = store
        context.router.recorder = EventRecorder(store, context.counters)
        self._retention = Retention(store, self.settings.retention_days)
        log.info("store open; %d cached events and %d injectors restored", restored, injectors)

    async def _start_multicast(self) -> None:
        settings = self.settings
        sock = multicast_socket(
            settings.multicast_group, settings.multicast_port, settings.multicast_interface
        )
        protocol = DatagramInput(self.context, "multicast", receives=True)
        protocol.destination = (settings.multicast_group, settings.multicast_port)
        protocol.own_address = (settings.multicast_interface, settings.multicast_port)
        transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(lambda: protocol, sock=sock)
        self._datagrams.append(transport)
        log.info("multicast SA on %s:%d", settings.multicast_group, settings.multicast_port)

    def _schedule(self) -> None:
        """Make the timer's jobs: the tick, the identity watch, the mailbox's expiry, each component,
        the cluster's heartbeat."""
        self.timer.every("tick", lambda: TICK_INTERVAL_S, self._tick)
        watch = self.context.identity_watch
        if watch is not None:
            counters, clock = self.context.counters, self.context.clock
            self.timer.every(
                "identities", identity_poll_s, lambda _now: refresh_identities(watch, counters, clock)
            )
        clock = self.context.clock
        self.timer.add("mail-expiry", self._due_job(self.context.mailbox.tick), clock())
        if self.settings.server_ping_interval_s > 0:
            self.timer.every(
                "pings",
                lambda: max(TICK_INTERVAL_S, self.settings.server_ping_interval_s / PING_CHECKS_PER_INTERVAL),
                self._ping_silent,
            )
        for component in self.components:
            self.timer.add(type(component).__name__, self._due_job(component.tick), clock())
        if self._api is not None:  # the WebSockets a bearer token opened end when it expires
            self.timer.add("api-tokens", self._due_job(self._api.tick), clock())
        cluster = self.cluster
        if cluster is not None:
            wall_ms = clock.wall_ms
            self.timer.every("cluster", lambda: cluster.heartbeat_s, lambda _now: cluster.tick(wall_ms()))

    def _due_job(self, tick: Callable[[int], int | None]) -> Callable[[float], float]:
        """Run ``tick`` (a component's, the mailbox's); it is next due when it says (or after the
        usual interval)."""

        def run(now: float) -> float:
            now_ms = self.context.clock.wall_ms()
            due_ms = tick(now_ms)
            return now + (TICK_INTERVAL_S if due_ms is None else max(0, due_ms - now_ms) / 1000)

        return run

    def _tick(self, now: float) -> None:
        now_ms = self.context.clock.wall_ms()
        self.context.router.tick(now_ms)
        self.context.flush_refusals()
        if self._retention is not None:
            self._retention.tick(now, now_ms)
        connection_now = self.context.clock()  # tests may swap the connections' clock alone
        checked = self.context.connections if self.settings.idle_timeout_s else self.context.watched
        for connection in list(checked):
            assert isinstance(connection, StreamConnection)
            connection.check_timeouts(connection_now)

    def _ping_silent(self, _now: float) -> None:
        """Send a keepalive on every streaming connection that has been silent for the interval
        (one message for all of them, so it is encoded once per wire format)."""
        connection_now = self.context.clock()  # the connections' clock, as in the tick
        keepalive = Outbound(control.pong(self.context.clock.wall_ms()), directed=True)
        for connection in list(self.context.connections):
            assert isinstance(connection, StreamConnection)
            connection.ping_if_silent(connection_now, keepalive)

    async def _close_store(self) -> None:
        store, self.context.store = self.context.store, None
        if store is None:
            return
        self.context.router.recorder = None
        if self._retention is not None:
            await self._retention.stop()
        await store.close()

    async def serve_until_stopped(self) -> None:
        """Wait until :meth:`stop` has run."""
        await self._stopped.wait()

    async def stop(self) -> None:
        """Close listeners, flush and close connections, end the timer, stop the components, close
        the identities, the mailbox and the store; safe after a start that failed half-way."""
        if self._api is not None:
            await self._api.close()
        if self._tcp is not None:
            self._tcp.close()
        if self._tls is not None:
            await self._tls.stop()
        if self._enrollment is not None:
            await self._enrollment.close()
        for transport in self._datagrams:
            transport.close()
        for connection in list(self.context.connections):
            assert isinstance(connection, StreamConnection)
            connection.close()
        if self._tcp is not None:
            await self._tcp.wait_closed()
        await self._tasks.stop()
        if self.cluster is not None:
            await self.cluster.stop()
        await stop_components(self.components)
        self.components = []
        if self.context.identities is not None:
            self.context.identities.close()
        await self.context.mailbox.stop()
        await self._close_store()
        self._stopped.set()
        log.info("Rallypoint stopped")

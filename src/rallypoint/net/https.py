"""The HTTPS listener of certificate enrollment (port 8446), run by uvicorn inside our event loop.

Server-auth TLS only: a device enrolls precisely because it has no client certificate yet, so
the password (HTTP Basic) is the credential here. uvicorn is driven as a library: we bind the
socket ourselves (port 0 works, and a busy port fails in ``start_enrollment``, not later in a
task), the serve task is owned by :class:`EnrollmentService`, readiness is awaited rather than
slept for, and uvicorn neither installs signal handlers nor reconfigures logging, because the
``rallypoint serve`` process owns both.
"""

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Iterator

import uvicorn

from rallypoint.api.enrollment import build_enrollment_app
from rallypoint.config import Settings
from rallypoint.errors import ConfigError, PkiError
from rallypoint.net.tls import TLS12_CIPHERS
from rallypoint.pki.audit import AuditLog
from rallypoint.pki.authority import CertificateAuthority
from rallypoint.pki.identities import IdentityStore

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 64
"""Concurrent connections and requests; beyond it uvicorn answers 503. Enrollment is rare."""
KEEP_ALIVE_S = 5
STARTUP_TIMEOUT_S = 10.0
SHUTDOWN_TIMEOUT_S = 5.0
"""Requests still running after this long at shutdown are cancelled."""
BACKLOG = 128


class _EmbeddedServer(uvicorn.Server):
    """uvicorn's server, told about readiness by an event and leaving signals to us."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # uvicorn would replace SIGINT/SIGTERM handlers and re-raise the signal on exit.
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()


class EnrollmentService:
    """A running enrollment listener; :meth:`close` stops it."""

    def __init__(self, server: _EmbeddedServer, task: "asyncio.Task[None]", port: int) -> None:
        self._server = server
        self._task = task
        self.port = port
        """The bound TCP port (the real one when 0 was asked for)."""

    async def close(self) -> None:
        """Stop accepting, let running requests finish (bounded), end the serve task."""
        self._server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(self._task), SHUTDOWN_TIMEOUT_S + 1.0)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        log.info("enrollment listener on port %d stopped", self.port)


async def start_enrollment(
    authority: CertificateAuthority,
    identities: IdentityStore,
    audit: AuditLog,
    settings: Settings,
    *,
    host: str,
    port: int,
) -> EnrollmentService:
    """Serve certificate enrollment over HTTPS on ``host:port``; return once it accepts requests.

    Raises ConfigError if the address cannot be bound (for example, the port is in use).
    """
    certfile, keyfile = authority.server_ssl_files()
    config = uvicorn.Config(
        build_enrollment_app(authority, identities, audit, settings),
        ssl_certfile=str(certfile),
        ssl_keyfile=str(keyfile),
        ssl_ciphers=TLS12_CIPHERS,
        log_level=settings.log_level.lower(),
        log_config=None,
        access_log=False,  # each outcome is logged once by the app; throttled floods stay quiet
        lifespan="off",
        proxy_headers=False,  # the peer address is what the failed-login limit counts
        server_header=False,
        limit_concurrency=MAX_CONNECTIONS,
        timeout_keep_alive=KEEP_ALIVE_S,
        timeout_graceful_shutdown=int(SHUTDOWN_TIMEOUT_S),
    )
    try:
        config.load()
    except OSError as exc:  # ssl.SSLError included: unreadable or mismatched certificate and key
        raise PkiError(f"cannot load the server certificate {certfile} for enrollment: {exc}") from exc
    assert config.ssl is not None
    config.ssl.minimum_version = ssl.TLSVersion.TLSv1_2
    sock = _listening_socket(host, port)
    server = _EmbeddedServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name="rallypoint-enrollment")
    ready = asyncio.create_task(server.ready.wait())
    try:
        await asyncio.wait({task, ready}, timeout=STARTUP_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED)
    finally:
        ready.cancel()
    if not server.ready.is_set():
        server.should_exit = True
        if not task.done():
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task  # re-raises what made the start fail
        sock.close()
        raise ConfigError(f"the enrollment listener on {host}:{port} did not start")
    bound = sock.getsockname()[1]
    log.info("certificate enrollment on https://%s:%d (HTTP basic auth)", host, bound)
    return EnrollmentService(server, task, bound)


def _listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen for enrollment on {host}:{port}: {exc.strerror or exc}") from exc
    sock.setblocking(False)
    return sock

"""The HTTPS listener of certificate enrollment (port 8446), run by uvicorn inside our event loop.

Server-auth TLS only: a device enrolls precisely because it has no client certificate yet, so
the password (HTTP Basic) is the credential here. uvicorn is driven as a library: we bind the
socket ourselves (port 0 works, and a busy port fails in ``start_enrollment``, not later in a
task), the serve task is owned by :class:`EnrollmentService`, readiness is awaited rather than
slept for, and uvicorn neither installs signal handlers nor reconfigures logging, because the
``rallypoint serve`` process owns both.
"""

import asyncio
import logging
import ssl
import time
from collections.abc import Callable

from rallypoint.config import Settings
from rallypoint.errors import PkiError
from rallypoint.http.enrollment.app import build_enrollment_app
from rallypoint.pki.audit import AuditLog
from rallypoint.pki.authority import CertificateAuthority
from rallypoint.pki.identities import IdentityStore
from rallypoint.router.stats import Counters
from rallypoint.transport.embedded import (
    EmbeddedServer,
    embedded_config,
    listening_socket,
    start_serving,
    stop_serving,
)
from rallypoint.transport.handshake import TLS12_CIPHERS
from rallypoint.transport.http_guard import ConnectionGuard, guarded

log = logging.getLogger(__name__)

MAX_CONNECTIONS = 64
"""Concurrent connections and requests; beyond it uvicorn answers 503. Enrollment is rare."""
BACKLOG = 128


class EnrollmentService:
    """A running enrollment listener; :meth:`close` stops it."""

    def __init__(self, server: EmbeddedServer, task: "asyncio.Task[None]", port: int) -> None:
        self._server = server
        self._task = task
        self.port = port
        """The bound TCP port (the real one when 0 was asked for)."""

    async def close(self) -> None:
        """Stop accepting, let running requests finish (bounded), end the serve task."""
        await stop_serving(self._server, self._task)
        log.info("enrollment listener on port %d stopped", self.port)


async def start_enrollment(
    authority: CertificateAuthority,
    identities: IdentityStore,
    audit: AuditLog,
    settings: Settings,
    *,
    host: str,
    port: int,
    clock: Callable[[], float] = time.monotonic,
    counters: Counters | None = None,
) -> EnrollmentService:
    """Serve certificate enrollment over HTTPS on ``host:port``; return once it accepts requests.

    Raises ConfigError if the address cannot be bound (for example, the port is in use).
    """
    certfile, keyfile = authority.server_ssl_files()
    guard = ConnectionGuard.for_port("enrollment", MAX_CONNECTIONS, settings, counters or Counters())
    config = embedded_config(
        build_enrollment_app(authority, identities, audit, settings, clock),
        log_level=settings.log_level,
        limit_concurrency=MAX_CONNECTIONS,
        http=guarded(guard),
        ssl_certfile=str(certfile),
        ssl_keyfile=str(keyfile),
        ssl_ciphers=TLS12_CIPHERS,
    )
    try:
        config.load()
    except OSError as exc:  # ssl.SSLError included: unreadable or mismatched certificate and key
        raise PkiError(f"cannot load the server certificate {certfile} for enrollment: {exc}") from exc
    assert config.ssl is not None
    config.ssl.minimum_version = ssl.TLSVersion.TLSv1_2
    sock = listening_socket(host, port, "enrollment", BACKLOG)
    what = f"the enrollment listener on {host}:{port}"
    server, task = await start_serving(config, [sock], "rallypoint-enrollment", what)
    bound = sock.getsockname()[1]
    log.info("certificate enrollment on https://%s:%d (HTTP basic auth)", host, bound)
    return EnrollmentService(server, task, bound)

"""CoT streaming over mutual TLS (port 8089): the listener and live revocation.

Handshakes and the identity store's verdict are :mod:`rallypoint.net.handshake`'s, shared
with the API port. The store can change under a running server (``rallypoint cert revoke``
in another process). A watcher polls its revision every :data:`REVISION_POLL_S`; only when it
changed does it re-read users and revocations, close the connections that lost their right
to be here, apply group changes, and re-sign the CRL that new handshakes are checked against.
"""

import asyncio
import contextlib
import logging
import socket
import ssl
from datetime import UTC, datetime

from rallypoint.errors import PkiError
from rallypoint.net.context import ServerContext, wall_clock_ms
from rallypoint.net.handshake import Refused, TlsAcceptor, Verified, server_ssl_context, verified_handshake
from rallypoint.net.stream import StreamConnection
from rallypoint.pki.identities import IdentityStore
from rallypoint.pki.paths import identity_path

log = logging.getLogger(__name__)

LISTEN_BACKLOG = 4096
"""Connections the kernel holds for us while a burst of clients (a whole team reconnecting) arrives."""

REVISION_POLL_S = 0.25
"""How often the identity store's revision is read: revocation closes a connection within this."""

CRL_RESIGN_S = 24 * 3600.0
"""The CRL is re-signed this often even without changes (it expires after a week; OpenSSL then
refuses every client)."""


class TlsListener:
    """The mutual-TLS streaming port, its handshake tasks and its revocation watcher."""

    def __init__(self, context: ServerContext) -> None:
        assert context.authority is not None
        self.context = context
        self.authority = context.authority
        self.store = IdentityStore(identity_path(context.settings.data_dir))
        """Its own connection: the event loop never waits for the lock of a thread using the shared one."""
        self.connections: set[StreamConnection] = set()
        self._acceptor = TlsAcceptor(
            "tls", self._admit, self._handshake, self._refuse, lambda: context.counters.inc("accept_failed")
        )
        self._watcher: asyncio.Task[None] | None = None
        self._revision = self.store.revision()
        revoked = self.store.revoked()
        self._revoked = frozenset(serial for serial, _ in revoked)
        self._crl_signed = 0.0
        self.ssl_context: ssl.SSLContext
        """What new handshakes use; rebuilt whenever the CRL is rewritten."""
        self._sign_crl(revoked, asyncio.get_running_loop().time())

    async def start(self, host: str, port: int) -> int:
        """Listen on ``host:port``; return the bound port."""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        listener = socket.create_server((host, port), family=family, backlog=LISTEN_BACKLOG)
        listener.setblocking(False)
        self._watcher = asyncio.create_task(self._watch(), name="rallypoint-tls-revocations")
        return self._acceptor.start(listener)

    async def stop(self) -> None:
        """Stop accepting, abandon handshakes in progress, end the watcher (connections stay)."""
        await self._acceptor.stop()
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        self.store.close()

    # handshakes

    def _admit(self, peer: str) -> tuple[str, str] | None:
        if len(self.context.connections) >= self.context.settings.max_connections:
            return ("limit", "too many connections")
        return None

    async def _handshake(self, sock: socket.socket, peer: str) -> None:
        """TLS handshake, then the identity store's verdict; the socket belongs to asyncio from here."""
        try:
            verified = await verified_handshake(sock, self.ssl_context, self.store)
        except Refused as refused:
            self._refuse(peer, refused.reason, str(refused), refused.user, refused.serial)
            return
        self._take_over(verified)

    def _take_over(self, verified: Verified) -> None:
        tls, handover, identity = verified.transport, verified.handover, verified.identity
        connection = StreamConnection(self.context, "tls", identity=identity, on_lost=self._lost)
        tls.set_protocol(connection)
        connection.connection_made(tls)
        if connection.subscriber is None:
            return  # refused by the connection limit; it logged and aborted
        self.connections.add(connection)
        self.context.audit(
            "connection", identity=identity.name, address=connection.peer, serial=f"{identity.serial:x}"
        )
        log.info("%s connected over TLS as %s", connection.peer, identity.name)
        for data in handover.received:
            connection.data_received(data)
        if handover.lost:
            connection.connection_lost(handover.error)

    def _lost(self, connection: StreamConnection) -> None:
        if connection not in self.connections:
            return
        self.connections.discard(connection)
        assert connection.identity is not None
        self.context.audit(
            "disconnection",
            identity=connection.identity.name,
            address=connection.peer,
            serial=f"{connection.identity.serial:x}",
        )
        log.info("%s (%s) disconnected from TLS", connection.peer, connection.identity.name)

    def _refuse(
        self, peer: str, reason: str, detail: str, user: str | None = None, serial: int | None = None
    ) -> None:
        self.context.counters.inc(f"handshake_refused{{reason={reason}}}")
        who = f" ({user})" if user else ""
        log.warning("TLS client %s%s refused: %s: %s", peer, who, reason, detail)
        self.context.audit(
            "handshake_refused",
            address=peer,
            reason=reason,
            detail=detail,
            identity=user,
            serial=None if serial is None else f"{serial:x}",
        )

    # live changes

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(REVISION_POLL_S)
            try:
                self.refresh(loop.time())
            except PkiError as exc:  # the store is busy or broken: keep serving, try again
                self.context.counters.inc("identity_refresh_failed")
                log.warning("cannot read the identity store: %s", exc)

    def refresh(self, now: float) -> None:
        """Apply what changed in the store since the last call (cheap when nothing did).

        Connections are dealt with before the CRL is rewritten: if writing it fails, the
        identity store still refuses the revoked certificates at their next handshake.
        """
        revision = self.store.revision()
        if revision == self._revision:
            if now - self._crl_signed > CRL_RESIGN_S:
                self._sign_crl(self.store.revoked(), now)
            return
        self._revision = revision
        revoked = self.store.revoked()
        serials = frozenset(serial for serial, _ in revoked)
        users = {user.name.casefold(): user for user in self.store.users()}
        for connection in list(self.connections):
            identity = connection.identity
            assert identity is not None
            user = users.get(identity.name.casefold())
            if identity.serial in serials:
                self._cut_off(connection, "certificate revoked")
            elif user is None or user.disabled:
                self._cut_off(connection, "user disabled" if user else "user removed")
            elif user.groups != identity.groups and connection.subscriber is not None:
                connection.identity = identity._replace(groups=user.groups)
                self.context.router.regroup(connection.subscriber, user.groups, user.groups, wall_clock_ms())
                log.info("%s (%s) now in groups %s", connection.peer, identity.name, sorted(user.groups))
        if serials != self._revoked:
            self._sign_crl(revoked, now)
            self._revoked = serials

    def _sign_crl(self, revoked: list[tuple[int, datetime]], now: float) -> None:
        """Rewrite the CRL and build the TLS context that new handshakes check it with."""
        self.authority.write_crl(revoked, datetime.now(UTC))
        self.ssl_context = server_ssl_context(self.authority)
        self._crl_signed = now

    def _cut_off(self, connection: StreamConnection, why: str) -> None:
        identity = connection.identity
        assert identity is not None
        self.context.counters.inc("revocation_closed")
        log.warning("%s (%s) disconnected: %s", connection.peer, identity.name, why)
        self.context.audit(
            "revocation",
            identity=identity.name,
            address=connection.peer,
            serial=f"{identity.serial:x}",
            detail=why,
        )
        connection.close(abort=True)

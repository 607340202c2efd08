"""CoT streaming over mutual TLS (port 8089): the listener and live revocation.

Handshakes and the identity store's verdict are :mod:`rallypoint.transport.handshake`'s, shared
with the API port. The store can change under a running server (``rallypoint cert revoke``
in another process); the process's one :class:`~rallypoint.pki.watch.IdentityWatch` notices
and tells this listener, which closes the connections that lost their right to be here and
applies group changes. New handshakes use the CRL the watch re-signed.
"""

import logging
import socket

from rallypoint.pki.identities import IdentitySnapshot
from rallypoint.transport.context import ServerContext, wall_clock_ms
from rallypoint.transport.handshake import (
    Refused,
    TlsAcceptor,
    Verified,
    fresh_ssl_context,
    server_ssl_context,
    verified_handshake,
)
from rallypoint.transport.stream import StreamConnection

log = logging.getLogger(__name__)

LISTEN_BACKLOG = 4096
"""Connections the kernel holds for us while a burst of clients (a whole team reconnecting) arrives."""


class TlsListener:
    """The mutual-TLS streaming port and its handshake tasks; it follows the identity watch."""

    def __init__(self, context: ServerContext) -> None:
        assert context.authority is not None
        assert context.identities is not None
        assert context.identity_watch is not None
        self.context = context
        self.authority = context.authority
        self.store = context.identities
        self.connections: set[StreamConnection] = set()
        self._acceptor = TlsAcceptor(
            "tls", self._admit, self._handshake, self._refuse, lambda: context.counters.inc("accept_failed")
        )
        self.ssl_context = server_ssl_context(self.authority)
        """What new handshakes use; rebuilt whenever the watch rewrote the CRL."""
        watch = context.identity_watch
        self._unsubscribe = [watch.subscribe(self.apply), watch.on_crl(self._reload_crl)]

    async def start(self, host: str, port: int) -> int:
        """Listen on ``host:port``; return the bound port."""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        listener = socket.create_server((host, port), family=family, backlog=LISTEN_BACKLOG)
        listener.setblocking(False)
        return self._acceptor.start(listener)

    async def stop(self) -> None:
        """Stop accepting, abandon handshakes in progress, stop following the watch (connections stay)."""
        await self._acceptor.stop()
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []

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
        in_full = self.context.audit_refusal(
            "handshake_refused",
            peer,
            reason,
            detail=detail,
            identity=user,
            serial=None if serial is None else f"{serial:x}",
        )
        log.log(
            logging.WARNING if in_full else logging.DEBUG,
            "TLS client %s%s refused: %s: %s",
            peer,
            who,
            reason,
            detail,
        )

    # live changes

    def apply(self, snapshot: IdentitySnapshot) -> None:
        """Close the connections whose certificate was revoked or whose user was disabled or
        removed; move the others to their user's current groups."""
        for connection in list(self.connections):
            identity = connection.identity
            assert identity is not None
            user = snapshot.user(identity.name)
            if identity.serial in snapshot.revoked:
                self._cut_off(connection, "certificate revoked")
            elif user is None or user.disabled:
                self._cut_off(connection, "user disabled" if user else "user removed")
            elif user.groups != identity.groups and connection.subscriber is not None:
                connection.identity = identity._replace(groups=user.groups)
                self.context.router.regroup(connection.subscriber, user.groups, user.groups, wall_clock_ms())
                log.info("%s (%s) now in groups %s", connection.peer, identity.name, sorted(user.groups))

    def _reload_crl(self) -> None:
        """The watch rewrote the CRL: new handshakes check against it."""
        self.ssl_context = fresh_ssl_context(self.authority, self.ssl_context, "TLS")

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

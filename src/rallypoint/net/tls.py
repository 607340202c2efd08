"""CoT streaming over mutual TLS (port 8089): handshake, identity, and live revocation.

The listener accepts TCP connections itself and runs each TLS handshake in a task it owns
(``loop.connect_accepted_socket``), so that every refused client is logged, counted and
audited: an ``ssl=`` server would only tell the loop's exception handler, and only in debug
mode. (``start_tls`` on an accepted transport would race: uvloop starts reading before the
handshake task runs, and the ClientHello would be lost.)

A client is let in only when OpenSSL has verified its certificate against our CA and CRL
*and* the identity store agrees: the certificate is recorded there (same fingerprint), not
revoked, names its user, and that user exists and is enabled. The store is authoritative:
it refuses a revoked certificate even before the CRL lists it. The identity and groups come
from that record, never from what the client sends.

The store can change under a running server (``rallypoint cert revoke`` in another
process). A watcher polls its revision every :data:`REVISION_POLL_S`; only when it changed
does it re-read users and revocations, close the connections that lost their right to be
here, apply group changes, and re-sign the CRL that new handshakes are checked against.
"""

import asyncio
import contextlib
import hashlib
import logging
import socket
import ssl
from datetime import UTC, datetime

from rallypoint.errors import AuthenticationError, PkiError
from rallypoint.net.context import ServerContext, wall_clock_ms
from rallypoint.net.stream import Identity, StreamConnection
from rallypoint.pki.authority import CertificateAuthority
from rallypoint.pki.identities import IdentityStore
from rallypoint.pki.paths import identity_path

log = logging.getLogger(__name__)

HANDSHAKE_TIMEOUT_S = 10.0
"""A client that has not finished its handshake by then is dropped (it holds a socket and a task)."""

LISTEN_BACKLOG = 4096
"""Connections the kernel holds for us while a burst of clients (a whole team reconnecting) arrives."""

ACCEPT_RETRY_S = 0.1
"""Pause before accepting again after the system refused (no file descriptors left)."""

MAX_PENDING_HANDSHAKES = 1024
"""Handshakes in progress at once; more are refused at once (a flood must not grow the task set)."""

REVISION_POLL_S = 0.25
"""How often the identity store's revision is read: revocation closes a connection within this."""

CRL_RESIGN_S = 24 * 3600.0
"""The CRL is re-signed this often even without changes (it expires after a week; OpenSSL then
refuses every client)."""

TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20"
"""TLS 1.2 suites: forward secrecy and AEAD only (TLS 1.3 suites are all of that already)."""

_VERIFY_REASONS = {10: "certificate_expired", 9: "certificate_not_yet_valid", 23: "certificate_revoked"}
"""OpenSSL verify codes worth their own counter; other verification failures are ``unknown_ca``."""

_SSL_REASONS = {
    "PEER_DID_NOT_RETURN_A_CERTIFICATE": "no_certificate",
    "CERTIFICATE_VERIFY_FAILED": "unknown_ca",
    "TLSV1_ALERT_UNKNOWN_CA": "client_rejected_server",
    "SSLV3_ALERT_BAD_CERTIFICATE": "client_rejected_server",
}
"""OpenSSL reasons of handshake failures, as short counter labels; the rest are ``tls_error``."""


def server_ssl_context(authority: CertificateAuthority) -> ssl.SSLContext:
    """The context new handshakes use: our server certificate, client certificates required and
    checked against our CA and the current CRL."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(TLS12_CIPHERS)
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION | ssl.OP_CIPHER_SERVER_PREFERENCE
    # No session tickets: every connection presents its certificate and is checked against the
    # current CRL, and OpenSSL 3.0 spends ~0.5 ms of each full handshake issuing them.
    context.options |= ssl.OP_NO_TICKET
    context.num_tickets = 0
    certificate, key = authority.server_ssl_files()
    context.load_cert_chain(certificate, key)
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(cafile=authority.paths.ca_cert)
    context.load_verify_locations(cafile=authority.paths.crl)
    context.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
    return context


def refusal_reason(exc: BaseException) -> str:
    """A short, stable label for why a handshake failed (for counters and the audit log)."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return _VERIFY_REASONS.get(exc.verify_code, "unknown_ca")
    if isinstance(exc, ssl.SSLError):
        return _SSL_REASONS.get(exc.reason or "", "tls_error")
    if isinstance(exc, TimeoutError):
        return "timeout"
    return "closed"


class Refused(AuthenticationError):
    """The handshake succeeded but the identity store does not let this certificate in."""

    def __init__(self, reason: str, detail: str, user: str | None = None, serial: int | None = None) -> None:
        super().__init__(detail)
        self.reason = reason
        self.user = user
        self.serial = serial


def identify(store: IdentityStore, ssl_object: ssl.SSLObject) -> Identity:
    """The identity of a verified peer, from the store's record of its certificate (or Refused)."""
    der = ssl_object.getpeercert(binary_form=True)
    fields = ssl_object.getpeercert()
    if der is None or not fields:
        raise Refused("no_certificate", "no verified client certificate")
    serial = int(str(fields["serialNumber"]), 16)
    subject = fields.get("subject", ())
    names = [pair[1] for rdn in subject if isinstance(rdn, tuple) for pair in rdn if pair[0] == "commonName"]
    common_name = names[0] if len(names) == 1 else None
    record = store.certificate(serial)
    if record is None or record.fingerprint != hashlib.sha256(der).hexdigest():
        raise Refused(
            "unknown_certificate", "certificate not recorded in the identity store", common_name, serial
        )
    if record.revoked_at is not None:
        raise Refused(
            "revoked", f"certificate revoked at {record.revoked_at:%Y-%m-%d %H:%M}Z", record.user, serial
        )
    if common_name is None or common_name.casefold() != record.user.casefold():
        raise Refused("name_mismatch", f"certificate names {common_name!r}", record.user, serial)
    user = store.user(record.user)
    if user is None:
        raise Refused("unknown_user", "its user no longer exists", record.user, serial)
    if user.disabled:
        raise Refused("disabled", "its user is disabled", user.name, serial)
    return Identity(user.name, user.groups, serial)


class Handover(asyncio.Protocol):
    """Holds what arrives between the end of the handshake and the connection taking over."""

    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.lost = False
        self.error: Exception | None = None

    def data_received(self, data: bytes) -> None:
        self.received.append(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.error = exc


async def tls_handshake(sock: socket.socket, context: ssl.SSLContext) -> tuple[asyncio.Transport, Handover]:
    """Run the server side of a TLS handshake on an accepted socket.

    Shared by the streaming port and the API port. A failed or late handshake raises
    :class:`Refused` with a short reason (``timeout``, ``no_certificate``, ``unknown_ca`` …).
    """
    loop = asyncio.get_running_loop()
    handover = Handover()
    started = loop.time()
    try:
        async with asyncio.timeout(HANDSHAKE_TIMEOUT_S + 1):  # the TLS layer's own timeout fires first
            transport, _ = await loop.connect_accepted_socket(
                lambda: handover, sock, ssl=context, ssl_handshake_timeout=HANDSHAKE_TIMEOUT_S
            )
    except (OSError, TimeoutError) as exc:  # ssl.SSLError is an OSError
        late = loop.time() - started >= HANDSHAKE_TIMEOUT_S
        raise Refused("timeout" if late else refusal_reason(exc), str(exc) or type(exc).__name__) from exc
    return transport, handover


class TlsListener:
    """The mutual-TLS streaming port, its handshake tasks and its revocation watcher."""

    def __init__(self, context: ServerContext) -> None:
        assert context.authority is not None
        self.context = context
        self.authority = context.authority
        self.store = IdentityStore(identity_path(context.settings.data_dir))
        """Its own connection: the event loop never waits for the lock of a thread using the shared one."""
        self.connections: set[StreamConnection] = set()
        self._socket: socket.socket | None = None
        self._acceptor: asyncio.Task[None] | None = None
        self._handshakes: set[asyncio.Task[None]] = set()
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
        self._socket = listener
        self._acceptor = asyncio.create_task(self._accept_forever(listener), name="rallypoint-tls-accept")
        self._watcher = asyncio.create_task(self._watch(), name="rallypoint-tls-revocations")
        return int(listener.getsockname()[1])

    async def stop(self) -> None:
        """Stop accepting, abandon handshakes in progress, end the watcher (connections stay)."""
        tasks = [task for task in (self._acceptor, self._watcher, *self._handshakes) if task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._socket is not None:
            self._socket.close()
        self.store.close()

    # handshakes

    async def _accept_forever(self, listener: socket.socket) -> None:
        """Accept TCP connections and start each one's handshake in a task this listener owns."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                sock, address = await loop.sock_accept(listener)
            except OSError as exc:  # out of file descriptors, most likely: keep the port, retry soon
                self.context.counters.inc("accept_failed")
                log.warning("TLS port cannot accept: %s", exc)
                await asyncio.sleep(ACCEPT_RETRY_S)
                continue
            peer = f"{address[0]}:{address[1]}"
            busy = len(self._handshakes) >= MAX_PENDING_HANDSHAKES
            if busy or len(self.context.connections) >= self.context.settings.max_connections:
                sock.close()
                self._refuse(peer, "busy" if busy else "limit", "too many connections or handshakes")
                continue
            task = asyncio.create_task(self._handshake(sock, peer), name=f"tls-handshake {peer}")
            self._handshakes.add(task)
            task.add_done_callback(self._handshakes.discard)

    async def _handshake(self, sock: socket.socket, peer: str) -> None:
        """TLS handshake, then the identity store's verdict; the socket belongs to asyncio from here."""
        try:
            tls, handover = await tls_handshake(sock, self.ssl_context)
        except Refused as refused:
            self._refuse(peer, refused.reason, str(refused))
            return
        try:
            identity = identify(self.store, tls.get_extra_info("ssl_object"))
        except Refused as refused:
            tls.abort()
            self._refuse(peer, refused.reason, str(refused), refused.user, refused.serial)
            return
        except PkiError as exc:
            tls.abort()
            self._refuse(peer, "store_error", str(exc))
            return
        self._take_over(tls, handover, identity)

    def _take_over(self, tls: asyncio.Transport, handover: Handover, identity: Identity) -> None:
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


def _address(transport: asyncio.BaseTransport) -> str:
    peer = transport.get_extra_info("peername")
    return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)

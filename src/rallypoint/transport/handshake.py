"""Mutual TLS on an accepted socket, the identity store's verdict, and the accept loop that
both mutual-TLS ports share (streaming 8089, Marti API 8443).

Each port accepts TCP connections itself and runs every TLS handshake in a task it owns
(``loop.connect_accepted_socket``), so that every refused client is logged, counted and
audited: an ``ssl=`` server would only tell the loop's exception handler, and only in debug
mode. (``start_tls`` on an accepted transport would race: uvloop starts reading before the
handshake task runs, and the ClientHello would be lost.) What differs per port is only what
happens before a handshake (a connection limit, a fresh CRL) and after it (who takes the
connection over): the callbacks of :class:`TlsAcceptor`.

A client is let in only when OpenSSL has verified its certificate against our CA and CRL
*and* the identity store agrees: the certificate is recorded there (same fingerprint), not
revoked, names its user, and that user exists and is enabled. The store is authoritative:
it refuses a revoked certificate even before the CRL lists it. The identity and groups come
from that record, never from what the client sends.
"""

import asyncio
import contextlib
import functools
import hashlib
import logging
import socket
import ssl
from collections.abc import Callable, Coroutine
from typing import Any, NamedTuple

from rallypoint.errors import AuthenticationError, PkiError
from rallypoint.pki.authority import CertificateAuthority
from rallypoint.pki.identities import IdentityStore
from rallypoint.transport.stream import Identity

log = logging.getLogger(__name__)

HANDSHAKE_TIMEOUT_S = 5.0
"""A client that has not finished its handshake by then is dropped (it holds a socket and a task);
a real one needs a few round trips, well under a second even over a poor radio link."""

ACCEPT_RETRY_S = 0.1
"""Pause before accepting again after the system refused (no file descriptors left)."""

MAX_PENDING_HANDSHAKES = 1024
"""Handshakes in progress at once. When all are taken, a new client still gets in: the oldest
handshake of the address holding the most is dropped for it, so a flood evicts only itself."""

MAX_PENDING_PER_ADDRESS = 32
"""Handshakes in progress from one IP address; more are refused at once. A whole office behind
one NAT reconnecting after an outage stays under it; one flooding host cannot take the port."""

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


def fresh_ssl_context(authority: CertificateAuthority, current: ssl.SSLContext, port: str) -> ssl.SSLContext:
    """A context with the CRL just rewritten, or ``current`` (logged) if it cannot be loaded."""
    try:
        return server_ssl_context(authority)
    except OSError as exc:  # ssl.SSLError included
        log.error("%s port keeps its previous CRL: %s", port, exc)
        return current


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


class Verified(NamedTuple):
    """A connection whose certificate OpenSSL and the identity store both accepted."""

    transport: asyncio.Transport
    handover: Handover
    identity: Identity
    revision: int
    """The identity store's revision the identity was read at."""


async def verified_handshake(sock: socket.socket, context: ssl.SSLContext, store: IdentityStore) -> Verified:
    """TLS handshake, then the identity store's verdict (Refused with a short reason otherwise)."""
    tls, handover = await tls_handshake(sock, context)
    try:
        revision = store.revision()
        identity = identify(store, tls.get_extra_info("ssl_object"))
    except Refused:
        tls.abort()
        raise
    except PkiError as exc:
        tls.abort()
        raise Refused("store_error", str(exc)) from exc
    return Verified(tls, handover, identity, revision)


Admit = Callable[[str], tuple[str, str] | None]
"""Called with the peer before its handshake: None to go ahead, or ``(reason, detail)`` to refuse."""

Handshake = Callable[[socket.socket, str], Coroutine[Any, Any, None]]
"""Runs one accepted socket's handshake and hands the connection over (or refuses it)."""

Refuse = Callable[[str, str, str], None]
"""Count, log and audit a refusal: ``(peer, reason, detail)``."""


class TlsAcceptor:
    """Owns a listening socket, its accept task and the handshake tasks it starts."""

    def __init__(
        self,
        name: str,
        admit: Admit,
        handshake: Handshake,
        refuse: Refuse,
        on_accept_error: Callable[[], None],
    ) -> None:
        self._name = name
        self._admit = admit
        self._handshake = handshake
        self._refuse = refuse
        self._on_accept_error = on_accept_error
        self._socket: socket.socket | None = None
        self._task: asyncio.Task[None] | None = None
        self._handshakes: dict[asyncio.Task[None], str] = {}
        """Handshakes in progress, oldest first, with their peer."""
        self._by_address: dict[str, dict[asyncio.Task[None], None]] = {}
        """The same tasks by IP address, oldest first (dicts used as ordered sets)."""

    def start(self, listener: socket.socket) -> int:
        """Accept on ``listener`` (bound, listening, non-blocking); return its port."""
        self._socket = listener
        self._task = asyncio.create_task(
            self._accept_forever(listener), name=f"rallypoint-{self._name}-accept"
        )
        return int(listener.getsockname()[1])

    async def stop(self) -> None:
        """Stop accepting and abandon the handshakes in progress."""
        tasks = [task for task in (self._task, *self._handshakes) if task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._socket is not None:
            self._socket.close()

    async def _accept_forever(self, listener: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                sock, address = await loop.sock_accept(listener)
            except OSError as exc:  # out of file descriptors, most likely: keep the port, retry soon
                self._on_accept_error()
                log.warning("%s port cannot accept: %s", self._name, exc)
                await asyncio.sleep(ACCEPT_RETRY_S)
                continue
            host = str(address[0])
            peer = f"{host}:{address[1]}"
            refusal = self._room_for(host) or self._admit(peer)
            if refusal is not None:
                sock.close()
                self._refuse(peer, *refusal)
                continue
            task = asyncio.create_task(self._handshake(sock, peer), name=f"{self._name}-handshake {peer}")
            self._handshakes[task] = peer
            self._by_address.setdefault(host, {})[task] = None
            task.add_done_callback(functools.partial(self._forget, host=host))

    def _room_for(self, host: str) -> tuple[str, str] | None:
        """Refuse a host over its share; make room for a new one when every slot is taken."""
        pending = len(self._by_address.get(host, ()))
        if pending >= MAX_PENDING_PER_ADDRESS:
            return ("address_busy", f"{pending} handshakes from {host} already in progress")
        if len(self._handshakes) >= MAX_PENDING_HANDSHAKES:
            busiest, tasks = max(self._by_address.items(), key=lambda item: len(item[1]))
            oldest = next(iter(tasks))
            peer = self._handshakes[oldest]
            self._forget(oldest, busiest)
            oldest.cancel()  # asyncio closes the half-done connection
            self._refuse(peer, "evicted", "oldest handshake of the busiest address, dropped for a new client")
        return None

    def _forget(self, task: asyncio.Task[None], host: str) -> None:
        self._handshakes.pop(task, None)
        pending = self._by_address.get(host)
        if pending is not None:
            pending.pop(task, None)
            if not pending:
                del self._by_address[host]

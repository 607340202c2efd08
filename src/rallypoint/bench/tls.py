"""TLS for the bench: identities for the server it starts, and the client side of mutual TLS.

Before a TLS bench server starts, its data directory is prepared the way an operator would:
the certificate authority (as ``serve`` would create it), then users in group
:data:`BENCH_GROUP` with certificates issued, recorded in the identity store and written as
PEM files. The server's anti-spoofing on TLS gives each uid and callsign to the first
identity that sends it, so every sending connection has its own identity; the receive-only
connections send nothing and share one. Against a running server (``--target``), one
identity given as files serves every connection.
"""

import secrets
import ssl
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from rallypoint.bench.errors import BenchError
from rallypoint.bench.route import Endpoint, Route
from rallypoint.errors import PkiError
from rallypoint.pki.authority import CertificateAuthority, private_pem
from rallypoint.pki.certificates import PrivateKey
from rallypoint.pki.identities import IdentityStore
from rallypoint.pki.paths import identity_path

BENCH_GROUP = "bench"
RECEIVER_USER = "bench-recv"
SENDER_USER = "bench-send-{}"
SERVER_HOSTNAMES = ("localhost", "127.0.0.1")
"""The spawned server's certificate names; clients check it as :data:`SERVER_NAME`."""
SERVER_NAME = "localhost"
CERTIFICATE_DAYS = 1

MAX_TLS_SENDERS = 1_000
"""Each sender needs its own identity: an RSA key and a password hash, ~0.1 s apiece."""


@dataclass(frozen=True)
class ClientFiles:
    """One client identity as PEM files."""

    certificate: Path
    key: Path


@dataclass(frozen=True)
class TlsIdentities:
    """How the bench's connections authenticate: the CA they trust and the identities they present."""

    ca_file: Path
    receiver: ClientFiles
    senders: tuple[ClientFiles, ...]
    """Sender ``i`` presents ``senders[i % len(senders)]``."""
    server_name: str = SERVER_NAME

    @classmethod
    def shared(cls, ca_file: Path, identity: ClientFiles, server_name: str) -> "TlsIdentities":
        """One identity for every connection (a running server's own user)."""
        return cls(ca_file, identity, (identity,), server_name)

    def route(self, host: str, port: int) -> Route:
        """Endpoints for every connection of a run, one TLS context per identity."""
        receiver = self._endpoint(host, port, self.receiver)
        senders = tuple(
            receiver if files == self.receiver else self._endpoint(host, port, files)
            for files in self.senders
        )
        return Route(receiver, senders)

    def _endpoint(self, host: str, port: int, files: ClientFiles) -> Endpoint:
        return Endpoint(host, port, client_context(self.ca_file, files), self.server_name)


def client_context(ca_file: Path, files: ClientFiles) -> ssl.SSLContext:
    """What a TAK client uses: trust ``ca_file``, present ``files``."""
    try:
        context = ssl.create_default_context(cafile=ca_file)
        context.load_cert_chain(files.certificate, files.key)
    except OSError as exc:  # ssl.SSLError is one too
        raise BenchError(f"cannot load the TLS client files: {exc}") from exc
    return context


def prepare_server_pki(data_dir: Path, client_dir: Path, senders: int, now: datetime) -> TlsIdentities:
    """Create the CA and the bench identities in ``data_dir``; write client files to ``client_dir``."""
    if senders > MAX_TLS_SENDERS:
        raise BenchError(f"--tls makes one identity per sender: at most {MAX_TLS_SENDERS:,} senders")
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        client_dir.mkdir(parents=True, exist_ok=True)
        authority = CertificateAuthority.load_or_create(data_dir, SERVER_HOSTNAMES, now)
        with IdentityStore(identity_path(data_dir)) as store:

            def enrol(name: str) -> ClientFiles:
                store.add_user(name, secrets.token_urlsafe(16), [BENCH_GROUP])  # nobody logs in with it
                certificate, key = authority.issue(name, now, CERTIFICATE_DAYS)
                store.record_certificate(certificate, name)
                return write_client_files(client_dir, name, certificate, key)

            receiver = enrol(RECEIVER_USER)
            sending = tuple(enrol(SENDER_USER.format(index)) for index in range(senders))
    except (OSError, PkiError) as exc:
        raise BenchError(f"cannot prepare the TLS identities in {data_dir}: {exc}") from exc
    return TlsIdentities(authority.paths.ca_cert, receiver, sending or (receiver,))


def write_client_files(
    directory: Path, name: str, certificate: x509.Certificate, key: PrivateKey
) -> ClientFiles:
    """``name.pem`` and ``name.key`` (mode 0600) in ``directory``."""
    files = ClientFiles(directory / f"{name}.pem", directory / f"{name}.key")
    files.certificate.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    files.key.touch(mode=0o600)
    files.key.write_bytes(private_pem(key))
    return files

"""The built-in certificate authority: its files, issuing, enrollment signing and the CRL.

The first ``rallypoint serve`` (or the first admin command) on an empty data directory creates
the CA, the server certificate and an empty CRL, so TLS works without any set-up step. Later
calls only read those files; they re-issue the server certificate when the configured host names
change or it nears expiry, and re-sign the CRL before it expires (OpenSSL refuses every client
once the CRL's ``nextUpdate`` has passed, so a long-running server should call
:meth:`CertificateAuthority.load_or_create` or :meth:`CertificateAuthority.write_crl` daily).

Private keys are stored unencrypted, protected by mode 0600 in a 0700 directory: the server
must read them unattended, and a passphrase stored next to them would add nothing.
"""

import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from rallypoint.errors import PkiError
from rallypoint.pki.certificates import (
    NAME_ENTRIES,
    PrivateKey,
    build_ca,
    build_client,
    build_crl,
    build_server,
    check_csr,
    new_client_key,
    new_ec_key,
    subject_alternative_names,
)
from rallypoint.pki.files import PRIVATE, PUBLIC, exclusive_lock, make_private_directory, write_atomic
from rallypoint.pki.paths import PkiPaths, pki_paths

CRL_LIFETIME = timedelta(days=7)
CRL_REFRESH_BEFORE = timedelta(days=2)
"""load_or_create re-signs the CRL once it has less than this left."""
SERVER_RENEW_BEFORE = timedelta(days=30)
"""load_or_create re-issues the server certificate once it has less than this left."""


class CertificateAuthority:
    """One CA: its certificate and key, and the server certificate and CRL it maintains."""

    def __init__(self, paths: PkiPaths, certificate: x509.Certificate, key: PrivateKey) -> None:
        self.paths = paths
        self.certificate = certificate
        self._key = key
        self.name_entries: tuple[tuple[str, str], ...] = NAME_ENTRIES

    @classmethod
    def load_or_create(
        cls, data_dir: Path, hostnames: Sequence[str], now: datetime
    ) -> "CertificateAuthority":
        """The CA in ``data_dir``, created with a server certificate and an empty CRL if missing."""
        paths = pki_paths(data_dir)
        make_private_directory(paths.directory)
        with exclusive_lock(paths.directory / ".lock"):
            if not paths.ca_cert.exists() and not paths.ca_key.exists():
                return cls._create(paths, hostnames, now)
            authority = cls._load(paths)
            authority._ensure_server_certificate(hostnames, now)
            authority._ensure_crl(now)
            return authority

    @classmethod
    def initialise(
        cls, data_dir: Path, hostnames: Sequence[str], now: datetime, *, replace: bool = False
    ) -> "CertificateAuthority":
        """A new CA (``rallypoint ca init``); an existing one is only overwritten if ``replace``."""
        paths = pki_paths(data_dir)
        make_private_directory(paths.directory)
        with exclusive_lock(paths.directory / ".lock"):
            if not replace and (paths.ca_cert.exists() or paths.ca_key.exists()):
                raise PkiError(
                    f"a certificate authority already exists in {paths.directory} "
                    "(--replace makes a new one; every certificate it issued stops working)"
                )
            return cls._create(paths, hostnames, now)

    def issue(
        self, common_name: str, now: datetime, validity_days: int
    ) -> tuple[x509.Certificate, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey]:
        """A new RSA key and a client certificate for it (for ``cert issue`` and packages)."""
        key = new_client_key()
        certificate = build_client(
            self.certificate, self._key, key.public_key(), common_name, now=now, validity=_days(validity_days)
        )
        return certificate, key

    def sign_csr(
        self, csr: x509.CertificateSigningRequest, common_name: str, now: datetime, validity_days: int
    ) -> x509.Certificate:
        """A client certificate for an enrollment CSR (raises EnrollmentRefused if it does not match).

        Only the CSR's public key is used: the subject and the extensions are ours, so a client
        can never ask for a CA certificate or another usage.
        """
        public_key = check_csr(csr, common_name, self.name_entries)
        validity = _days(validity_days)
        return build_client(self.certificate, self._key, public_key, common_name, now=now, validity=validity)

    def write_crl(self, revoked: Iterable[tuple[int, datetime]], now: datetime) -> None:
        """Replace ``crl.pem`` by a CRL of ``(serial, revocation time)`` signed by this CA."""
        crl = build_crl(self.certificate, self._key, revoked, now, CRL_LIFETIME)
        write_atomic(self.paths.crl, crl.public_bytes(serialization.Encoding.PEM), PUBLIC)

    def server_ssl_files(self) -> tuple[Path, Path]:
        """(server certificate + CA chain PEM, server key PEM) for ``SSLContext.load_cert_chain``."""
        return self.paths.server_cert, self.paths.server_key

    @classmethod
    def _create(cls, paths: PkiPaths, hostnames: Sequence[str], now: datetime) -> "CertificateAuthority":
        if not hostnames:
            raise PkiError("no host names for the server certificate (setting 'hostnames')")
        key = new_ec_key()
        certificate = build_ca(f"Rallypoint CA {secrets.token_hex(4)}", key, now)
        write_atomic(paths.ca_key, private_pem(key), PRIVATE)
        write_atomic(paths.ca_cert, certificate.public_bytes(serialization.Encoding.PEM), PUBLIC)
        authority = cls(paths, certificate, key)
        authority._write_server_certificate(hostnames, now)
        authority.write_crl([], now)
        return authority

    @classmethod
    def _load(cls, paths: PkiPaths) -> "CertificateAuthority":
        try:
            certificate = x509.load_pem_x509_certificate(paths.ca_cert.read_bytes())
            key = serialization.load_pem_private_key(paths.ca_key.read_bytes(), password=None)
        except (OSError, ValueError, TypeError) as exc:
            raise PkiError(f"cannot load the certificate authority from {paths.directory}: {exc}") from exc
        if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            raise PkiError(f"{paths.ca_key}: unsupported key type")
        if _public_der(key) != _public_der(certificate):
            raise PkiError(f"{paths.ca_key} does not belong to {paths.ca_cert}")
        return cls(paths, certificate, key)

    def _ensure_server_certificate(self, hostnames: Sequence[str], now: datetime) -> None:
        try:
            current = x509.load_pem_x509_certificates(self.paths.server_cert.read_bytes())[0]
        except (OSError, ValueError):
            current = None
        if current is None or not self.paths.server_key.exists() or self._needs_new(current, hostnames, now):
            self._write_server_certificate(hostnames, now)

    def _needs_new(self, server: x509.Certificate, hostnames: Sequence[str], now: datetime) -> bool:
        """True if ``server`` is not ours, expires soon, or names other hosts than configured."""
        try:
            server.verify_directly_issued_by(self.certificate)
            names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except (ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
            return True
        expiring = server.not_valid_after_utc - now < SERVER_RENEW_BEFORE
        return expiring or set(names) != set(subject_alternative_names(hostnames))

    def _write_server_certificate(self, hostnames: Sequence[str], now: datetime) -> None:
        key = new_ec_key()
        certificate = build_server(self.certificate, self._key, key, hostnames, now)
        chain = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (certificate, self.certificate))
        write_atomic(self.paths.server_key, private_pem(key), PRIVATE)
        write_atomic(self.paths.server_cert, chain, PUBLIC)

    def _ensure_crl(self, now: datetime) -> None:
        """Re-sign the CRL, keeping its entries, if it is missing, foreign or about to expire."""
        try:
            crl = x509.load_pem_x509_crl(self.paths.crl.read_bytes())
        except (OSError, ValueError):
            self.write_crl([], now)
            return
        next_update = crl.next_update_utc
        fresh = next_update is not None and next_update - now > CRL_REFRESH_BEFORE
        if not (fresh and crl.is_signature_valid(self._key.public_key())):
            self.write_crl([(entry.serial_number, entry.revocation_date_utc) for entry in crl], now)


def private_pem(key: PrivateKey) -> bytes:
    """``key`` as unencrypted PKCS#8 PEM (only ever written with mode 0600)."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _public_der(item: PrivateKey | x509.Certificate) -> bytes:
    public = item.public_key()
    return public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _days(validity_days: int) -> timedelta:
    if validity_days <= 0:
        raise PkiError(f"certificate validity must be at least one day, not {validity_days}")
    return timedelta(days=validity_days)

"""What the admin commands share: the data directory's CA, store and audit log, and the password prompt."""

import getpass
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TextIO

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from rallypoint.config import Settings
from rallypoint.errors import PkiError
from rallypoint.pki.audit import AuditLog
from rallypoint.pki.authority import CertificateAuthority
from rallypoint.pki.certificate_records import CertificateRecord
from rallypoint.pki.certificates import PrivateKey
from rallypoint.pki.files import make_private_directory
from rallypoint.pki.identities import IdentityStore, User
from rallypoint.pki.paths import audit_path, identity_path


@dataclass
class Admin:
    """One admin command's view of the data directory, at one moment ``now``."""

    settings: Settings
    now: datetime

    def __post_init__(self) -> None:
        make_private_directory(self.settings.data_dir)
        self.audit = AuditLog(audit_path(self.settings.data_dir), fsync=True)

    def store(self) -> IdentityStore:
        """The identity store (a context manager that closes it)."""
        return IdentityStore(identity_path(self.settings.data_dir))

    def authority(self) -> CertificateAuthority:
        """The CA, created with the server certificate on first use."""
        return CertificateAuthority.load_or_create(
            self.settings.data_dir, self.settings.hostname_list, self.now
        )

    def issue(
        self, store: IdentityStore, name: str, validity_days: int, via: str
    ) -> tuple[CertificateAuthority, x509.Certificate, PrivateKey, CertificateRecord]:
        """A new client certificate for existing, enabled user ``name``, recorded and audited.

        It is recorded before any file is written: a certificate the store does not know could
        never be revoked by user name.
        """
        user = existing_user(store, name)
        if user.disabled:
            raise PkiError(f"user {user.name} is disabled (rallypoint user enable {user.name})")
        authority = self.authority()
        certificate, key = authority.issue(user.name, self.now, validity_days)
        record = store.record_certificate(certificate, user.name)
        self.audit.append(
            "certificate_issued",
            self.now,
            user=user.name,
            serial=f"{record.serial:x}",
            fingerprint=record.fingerprint,
            via=via,
        )
        return authority, certificate, key, record


def existing_user(store: IdentityStore, name: str) -> User:
    """The user called ``name``, or a PkiError that says how to add one."""
    user = store.user(name)
    if user is None:
        raise PkiError(f"no user named {name} (add one with: rallypoint user add {name} --group GROUP)")
    return user


def read_password(stdin: TextIO) -> str:
    """Twice from the terminal (hidden), or one line from a pipe; never empty."""
    if stdin.isatty():
        password = getpass.getpass("password: ")
        if getpass.getpass("password again: ") != password:
            raise PkiError("the two passwords differ")
    else:
        password = stdin.readline().rstrip("\r\n")
    if not password:
        raise PkiError("the password must not be empty")
    return password


def refuse_existing(paths: list[Path]) -> None:
    """Refuse to overwrite files (an earlier key or keystore might still be needed)."""
    existing = [str(path) for path in paths if path.exists()]
    if existing:
        raise PkiError(f"not overwriting {', '.join(existing)}")


def certificate_pem(certificate: x509.Certificate) -> bytes:
    """PEM text of a certificate."""
    return certificate.public_bytes(serialization.Encoding.PEM)

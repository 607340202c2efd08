"""The certificates table of the identity store: issued-certificate records and revocations.

``pki.identities`` owns the database, its lock and its transactions; this module owns what a
certificate row holds and how it is written, read back and revoked, on a connection the store
lends it inside one of its transactions. Serials are up to 159 bits, too large for SQLite
integers, so they are stored as lowercase hex; times are stored as UTC ISO-8601 text.
"""

import hashlib
import sqlite3
from datetime import UTC, datetime
from typing import Any, NamedTuple

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from rallypoint.errors import PkiError

CERTIFICATES = """
SELECT c.serial, u.name, c.not_before, c.not_after, c.revoked_at, c.client_uid, c.fingerprint
FROM certificates c JOIN users u ON u.id = c.user_id
"""
"""Rows that ``record`` reads, to be completed with a WHERE or ORDER BY clause."""
REVOKED = "SELECT serial, revoked_at FROM certificates WHERE revoked_at IS NOT NULL"
"""Rows that ``revocations`` reads."""
ISSUED = """
SELECT c.serial, u.name, c.not_before, c.not_after, c.revoked_at, c.client_uid, c.fingerprint, c.rowid, b.der
FROM certificates c JOIN users u ON u.id = c.user_id LEFT JOIN certificate_bodies b ON b.serial = c.serial
ORDER BY c.rowid
"""
"""Rows that ``issued`` reads."""


class CertificateRecord(NamedTuple):
    """A certificate the CA issued, to whom, and whether it is revoked."""

    serial: int
    user: str
    not_before: datetime
    not_after: datetime
    revoked_at: datetime | None
    client_uid: str | None
    fingerprint: str
    """SHA-256 of the DER certificate, lowercase hex."""


class IssuedCertificate(NamedTuple):
    """A certificate record with its row number (a small, stable id for TAK's certificate admin)
    and the DER certificate (None for those recorded before certificates were kept)."""

    id: int
    record: CertificateRecord
    der: bytes | None


def insert(
    db: sqlite3.Connection, certificate: x509.Certificate, user_id: int, client_uid: str | None
) -> CertificateRecord:
    """Record ``certificate`` and its DER body as issued to the user with row ``user_id``."""
    der = certificate.public_bytes(serialization.Encoding.DER)
    serial = serial_text(certificate.serial_number)
    not_before = certificate.not_valid_before_utc
    not_after = certificate.not_valid_after_utc
    fingerprint = hashlib.sha256(der).hexdigest()
    try:
        db.execute(
            "INSERT INTO certificates VALUES (?, ?, ?, ?, NULL, ?, ?)",
            (serial, user_id, time_text(not_before), time_text(not_after), client_uid, fingerprint),
        )
    except sqlite3.IntegrityError:
        raise PkiError(
            f"a certificate with serial {certificate.serial_number:x} is already recorded"
        ) from None
    db.execute("INSERT INTO certificate_bodies VALUES (?, ?)", (serial, der))
    name = str(db.execute("SELECT name FROM users WHERE id = ?", (user_id,)).fetchone()[0])
    return CertificateRecord(
        certificate.serial_number, name, not_before, not_after, None, client_uid, fingerprint
    )


def revoke_user(db: sqlite3.Connection, user_id: int, now: datetime) -> set[int]:
    """Revoke every certificate of the user with row ``user_id`` not yet revoked; their serials."""
    rows = db.execute(
        "UPDATE certificates SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL RETURNING serial",
        (time_text(now), user_id),
    ).fetchall()
    return {int(row[0], 16) for row in rows}


def revoke_serial(db: sqlite3.Connection, serial: int, now: datetime) -> bool:
    """Revoke one certificate; whether it was recorded and not yet revoked."""
    rows = db.execute(
        "UPDATE certificates SET revoked_at = ? WHERE serial = ? AND revoked_at IS NULL RETURNING serial",
        (time_text(now), serial_text(serial)),
    ).fetchall()
    return bool(rows)


def record(row: tuple[Any, ...]) -> CertificateRecord:
    """The record of one row of ``CERTIFICATES`` (or the first columns of ``ISSUED``)."""
    serial, user, not_before, not_after, revoked_at, client_uid, fingerprint = (str(v) for v in row[:7])
    return CertificateRecord(
        serial=int(serial, 16),
        user=user,
        not_before=datetime.fromisoformat(not_before),
        not_after=datetime.fromisoformat(not_after),
        revoked_at=None if row[4] is None else datetime.fromisoformat(revoked_at),
        client_uid=None if row[5] is None else client_uid,
        fingerprint=fingerprint,
    )


def issued(rows: list[tuple[Any, ...]]) -> list[IssuedCertificate]:
    """The issued certificates of rows of ``ISSUED``."""
    return [
        IssuedCertificate(int(row[7]), record(row), None if row[8] is None else bytes(row[8])) for row in rows
    ]


def revocations(rows: list[tuple[Any, ...]]) -> list[tuple[int, datetime]]:
    """``(serial, revocation time)`` of rows of ``REVOKED``."""
    return [(int(serial, 16), datetime.fromisoformat(when)) for serial, when in rows]


def serial_text(serial: int) -> str:
    """A serial as stored: lowercase hex."""
    return format(serial, "x")


def time_text(when: datetime) -> str:
    """A time as stored: UTC ISO-8601; PkiError for a naive time, whose zone is unknown."""
    if when.tzinfo is None:
        raise PkiError("times must be timezone-aware")
    return when.astimezone(UTC).isoformat()

"""Users, their groups and the certificates issued to them, in one SQLite file (the certificate
rows themselves are read and written by ``pki.certificate_records``).

The admin commands write this file while the server reads it, from two processes. SQLite in
WAL mode lets readers go on during a write; every write is one short ``BEGIN IMMEDIATE``
transaction, and a busy timeout makes the loser of a race wait instead of failing. Each change
increments ``revision`` in the same transaction, so the server can poll one integer and
re-read users and revocations only when something changed.

User names are unique without regard to case (compared by ``casefold``) and stored as given.
They are limited to letters, digits and ``. _ @ -`` because they become certificate CNs, HTTP
basic-auth user names (no ``:``) and file names of issued certificates and packages.
"""

import contextlib
import os
import re
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from cryptography import x509

from rallypoint.errors import PkiError
from rallypoint.pki import certificate_records as certs
from rallypoint.pki.certificate_records import CertificateRecord, IssuedCertificate
from rallypoint.pki.passwords import dummy_hash, hash_password, verify_password

BUSY_TIMEOUT_MS = 5000
"""How long a writer waits for another process's transaction before giving up."""
USER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
MAX_LABEL_CHARS = 64

_SCHEMA = """
BEGIN IMMEDIATE;
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL UNIQUE,
    password TEXT NOT NULL,
    role TEXT,
    disabled INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS memberships (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    group_name TEXT NOT NULL,
    PRIMARY KEY (user_id, group_name)
);
CREATE TABLE IF NOT EXISTS certificates (
    serial TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    not_before TEXT NOT NULL,
    not_after TEXT NOT NULL,
    revoked_at TEXT,
    client_uid TEXT,
    fingerprint TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS certificates_by_user ON certificates(user_id);
CREATE TABLE IF NOT EXISTS certificate_bodies (serial TEXT PRIMARY KEY, der BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS revision (id INTEGER PRIMARY KEY CHECK (id = 1), value INTEGER NOT NULL);
INSERT OR IGNORE INTO revision VALUES (1, 0);
COMMIT;
"""
_USERS = """
SELECT u.name, u.role, u.disabled, m.group_name FROM users u
LEFT JOIN memberships m ON m.user_id = u.id
"""


class User(NamedTuple):
    """An identity as the router sees it: name, groups, role and whether it may log in."""

    name: str
    groups: frozenset[str]
    role: str | None
    disabled: bool


class IdentitySnapshot(NamedTuple):
    """Users and revoked serials at one revision: what open connections are checked against."""

    revision: int
    users: Mapping[str, User]
    """By ``casefold``-ed name."""
    revoked: Mapping[int, datetime]
    """Revocation time by serial: what the CRL lists."""

    def user(self, name: str) -> User | None:
        """The user called ``name`` in any letter case, or None."""
        return self.users.get(name.casefold())


class IdentityStore:
    """The identity database; one per process (thread-safe: one connection behind a lock)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        _create_private(path)
        try:
            self._db = sqlite3.connect(
                path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
            )
            self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA foreign_keys = ON")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise PkiError(f"cannot open the identity store {path}: {exc}") from exc

    def add_user(self, name: str, password: str, groups: Sequence[str], role: str | None = None) -> User:
        """Create a user; PkiError if the name (in any letter case) exists or is invalid."""
        _check_name(name)
        group_set = _check_groups(groups)
        if role is not None:
            _check_label("role", role)
        hashed = hash_password(password)
        with self._write() as db:
            try:
                cursor = db.execute(
                    "INSERT INTO users (name, name_key, password, role) VALUES (?, ?, ?, ?)",
                    (name, name.casefold(), hashed, role),
                )
            except sqlite3.IntegrityError:
                raise PkiError(f"a user named {name} already exists") from None
            db.executemany(
                "INSERT INTO memberships VALUES (?, ?)", [(cursor.lastrowid, g) for g in sorted(group_set)]
            )
        return User(name, group_set, role, disabled=False)

    def set_password(self, name: str, password: str) -> None:
        """Replace a user's password."""
        hashed = hash_password(password)
        with self._write() as db:
            db.execute("UPDATE users SET password = ? WHERE id = ?", (hashed, _user_id(db, name)))

    def set_disabled(self, name: str, disabled: bool) -> None:
        """Disable (no login, no enrollment, connections refused) or re-enable a user."""
        with self._write() as db:
            db.execute("UPDATE users SET disabled = ? WHERE id = ?", (int(disabled), _user_id(db, name)))

    def set_groups(self, name: str, groups: Sequence[str]) -> None:
        """Replace a user's groups (the server applies the change to open connections)."""
        group_set = _check_groups(groups)
        with self._write() as db:
            user_id = _user_id(db, name)
            db.execute("DELETE FROM memberships WHERE user_id = ?", (user_id,))
            db.executemany("INSERT INTO memberships VALUES (?, ?)", [(user_id, g) for g in sorted(group_set)])

    def users(self) -> list[User]:
        """Every user, by name."""
        return _collect_users(self._read(_USERS + " ORDER BY u.name_key", ()))

    def user(self, name: str) -> User | None:
        """The user called ``name`` in any letter case, or None."""
        found = _collect_users(self._read(_USERS + " WHERE u.name_key = ?", (name.casefold(),)))
        return found[0] if found else None

    def authenticate(self, name: str, password: str) -> User | None:
        """The user if ``password`` is right and the user enabled; None otherwise.

        The scrypt work is the same for unknown names (a dummy hash is checked), and it runs
        outside the lock, so several logins can be checked in parallel threads.
        """
        rows = self._read("SELECT password FROM users WHERE name_key = ?", (name.casefold(),))
        stored = str(rows[0][0]) if rows else dummy_hash()
        if not verify_password(password, stored) or not rows:
            return None
        user = self.user(name)
        return user if user is not None and not user.disabled else None

    def record_certificate(
        self, certificate: x509.Certificate, user: str, client_uid: str | None = None
    ) -> CertificateRecord:
        """Remember that ``certificate`` was issued to ``user`` (and the device uid it enrolled as)."""
        with self._write() as db:
            return certs.insert(db, certificate, _user_id(db, user), client_uid)

    def certificates(self, user: str | None = None) -> list[CertificateRecord]:
        """Issued certificates, oldest first; only ``user``'s if given."""
        if user is None:
            rows = self._read(certs.CERTIFICATES + " ORDER BY c.not_before, c.rowid", ())
        else:
            query = certs.CERTIFICATES + " WHERE u.name_key = ? ORDER BY c.not_before, c.rowid"
            rows = self._read(query, (user.casefold(),))
        return [certs.record(row) for row in rows]

    def certificate(self, serial: int) -> CertificateRecord | None:
        """The record of one certificate, or None if this CA never issued it."""
        rows = self._read(certs.CERTIFICATES + " WHERE c.serial = ?", (certs.serial_text(serial),))
        return certs.record(rows[0]) if rows else None

    def revoke(self, user: str, now: datetime) -> list[CertificateRecord]:
        """Revoke every certificate of ``user`` not yet revoked; returns those."""
        with self._write() as db:
            serials = certs.revoke_user(db, _user_id(db, user), now)
        return [record for record in self.certificates(user) if record.serial in serials]

    def revoke_certificate(self, serial: int, now: datetime) -> CertificateRecord | None:
        """Revoke one certificate; the record if it was issued here and not yet revoked, else None."""
        with self._write() as db:
            revoked = certs.revoke_serial(db, serial, now)
        return self.certificate(serial) if revoked else None

    def issued(self) -> list[IssuedCertificate]:
        """Every recorded certificate with its id and DER, in the order they were recorded."""
        return certs.issued(self._read(certs.ISSUED, ()))

    def revoked(self) -> list[tuple[int, datetime]]:
        """``(serial, revocation time)`` of every revoked certificate: the CRL's content."""
        return certs.revocations(self._read(certs.REVOKED, ()))

    def snapshot(self) -> IdentitySnapshot:
        """Revision, users and revoked serials, read in one transaction so that they agree."""
        with self._lock:
            try:
                self._db.execute("BEGIN")
                try:
                    revision = self._db.execute("SELECT value FROM revision WHERE id = 1").fetchone()[0]
                    users = _collect_users(self._db.execute(_USERS).fetchall())
                    revoked = self._db.execute(certs.REVOKED).fetchall()
                finally:
                    self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise PkiError(f"identity store {self._path}: {exc}") from exc
        by_name = {user.name.casefold(): user for user in users}
        return IdentitySnapshot(int(revision), by_name, dict(certs.revocations(revoked)))

    def revision(self) -> int:
        """A number that grows with every change; equal numbers mean nothing changed."""
        return int(self._read("SELECT value FROM revision WHERE id = 1", ())[0][0])

    def transaction(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        """One write transaction that increments the revision (``pki.replica`` merges records)."""
        return self._write()

    def query(self, sql: str, parameters: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows of one read (``pki.replica`` exports whole records)."""
        return self._read(sql, parameters)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> "IdentityStore":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _read(self, query: str, parameters: tuple[object, ...]) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._db.execute(query, parameters).fetchall()
            except sqlite3.Error as exc:
                raise PkiError(f"identity store {self._path}: {exc}") from exc

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction that also increments the revision."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise PkiError(f"identity store {self._path}: {exc}") from exc
            try:
                yield self._db
                self._db.execute("UPDATE revision SET value = value + 1 WHERE id = 1")
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise PkiError(f"identity store {self._path}: {exc}") from exc
            except BaseException:
                self._rollback()
                raise

    def _rollback(self) -> None:
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")


def _create_private(path: Path) -> None:
    """Create the database file with mode 0600 (it holds password hashes) if it does not exist.

    Only a file that did not exist is opened here, never one SQLite may have open: closing any
    descriptor of a file drops every POSIX lock the process holds on it, and another process
    would then believe itself alone, checkpoint and delete the WAL this one still reads. SQLite
    gives the -wal and -shm files the database file's permissions.
    """
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except OSError as exc:
        raise PkiError(f"cannot open the identity store {path}: {exc.strerror or exc}") from exc
    os.close(descriptor)


def _user_id(db: sqlite3.Connection, name: str) -> int:
    row = db.execute("SELECT id FROM users WHERE name_key = ?", (name.casefold(),)).fetchone()
    if row is None:
        raise PkiError(f"no user named {name}")
    return int(row[0])


def _collect_users(rows: list[tuple[Any, ...]]) -> list[User]:
    groups: dict[str, set[str]] = {}
    users: dict[str, User] = {}
    for name, role, disabled, group in rows:
        key = str(name)
        users.setdefault(key, User(key, frozenset(), None if role is None else str(role), bool(disabled)))
        members = groups.setdefault(key, set())
        if group is not None:
            members.add(str(group))
    return [user._replace(groups=frozenset(groups[key])) for key, user in users.items()]


def _check_name(name: str) -> None:
    if not USER_NAME.fullmatch(name):
        raise PkiError(
            f"invalid user name {name!r}: 1-64 letters, digits or . _ @ -, starting with a letter or digit"
        )


def _check_groups(groups: Sequence[str]) -> frozenset[str]:
    for group in groups:
        _check_label("group name", group)
    return frozenset(groups)


def _check_label(kind: str, value: str) -> None:
    """Group names and roles: shown in clients and logs, so short, printable and unpadded."""
    if not value or len(value) > MAX_LABEL_CHARS or not value.isprintable() or value != value.strip():
        raise PkiError(f"invalid {kind} {value!r}: 1-{MAX_LABEL_CHARS} printable characters")

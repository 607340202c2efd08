"""Web sessions on disk, so that a server restart does not log every command post out.

One small SQLite file in the data directory (mode 0600) holds, per session, the SHA-256 of its
token (never the token: a copy of the file opens no session), the user, their groups at login,
the certificate that opened it if any, and when it was last used (wall-clock ms, since a
restart resets the monotonic clock). The CSRF token is derived from the session token
(:func:`~rallypoint.http.command_post.auth.csrf_of`), so nothing secret is stored. After a restart
a page's cookie is hashed and looked up here; the session store then checks its idle time and
the identity store (user disabled or regrouped, certificate revoked) before reviving it.

Writes are few (login, logout, a touch at most every :data:`TOUCH_INTERVAL_MS` per session,
a sweep of idle rows) and run on the event loop: a local SQLite write of one row.
"""

import hashlib
import json
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any, NamedTuple

from rallypoint.errors import StoreError

TOUCH_INTERVAL_MS = 60_000
"""A session's last use is written at most this often: its idle time after a restart may be
this much shorter than in memory, and a busy page does not write on every request."""
BUSY_TIMEOUT_MS = 2_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS web_sessions (
    token_hash TEXT PRIMARY KEY,
    user TEXT NOT NULL,
    groups TEXT NOT NULL,
    certificate TEXT,
    last_used_ms INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS web_sessions_by_use ON web_sessions(last_used_ms);
"""


def session_records_path(data_dir: Path) -> Path:
    """The SQLite file of the web command post's sessions."""
    return data_dir / "web-sessions.sqlite3"


def token_hash(token: str) -> str:
    """What a session is stored under: the SHA-256 of its token (256 random bits: no salt needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


class SessionRecord(NamedTuple):
    """One stored session."""

    user: str
    groups: frozenset[str]
    certificate: int | None
    last_used_ms: int


class SessionRecords:
    """The sessions file; thread-safe (one connection behind a lock)."""

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        _create_private(path)
        try:
            self._db = sqlite3.connect(
                path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the web sessions file {path}: {exc}") from exc

    def save(self, key: str, record: SessionRecord) -> None:
        """Store (or replace) the session stored under ``key``."""
        certificate = None if record.certificate is None else str(record.certificate)
        groups = json.dumps(sorted(record.groups))
        self._run(
            "INSERT OR REPLACE INTO web_sessions VALUES (?, ?, ?, ?, ?)",
            (key, record.user, groups, certificate, record.last_used_ms),
        )

    def load(self, key: str) -> SessionRecord | None:
        """The session stored under ``key``, or None."""
        rows = self._run(
            "SELECT user, groups, certificate, last_used_ms FROM web_sessions WHERE token_hash = ?", (key,)
        )
        if not rows:
            return None
        user, groups, certificate, last_used_ms = rows[0]
        return SessionRecord(
            user,
            frozenset(json.loads(groups)),
            None if certificate is None else int(certificate),
            last_used_ms,
        )

    def touch(self, key: str, last_used_ms: int) -> None:
        """Record a use of the session under ``key``."""
        self._run("UPDATE web_sessions SET last_used_ms = ? WHERE token_hash = ?", (last_used_ms, key))

    def delete(self, key: str) -> None:
        """Forget the session under ``key`` (logout, expiry, revocation)."""
        self._run("DELETE FROM web_sessions WHERE token_hash = ?", (key,))

    def sweep(self, cutoff_ms: int, keep: int) -> None:
        """Forget sessions unused since ``cutoff_ms``, then all but the ``keep`` most recently used."""
        self._run("DELETE FROM web_sessions WHERE last_used_ms < ?", (cutoff_ms,))
        self._run(
            "DELETE FROM web_sessions WHERE token_hash NOT IN "
            "(SELECT token_hash FROM web_sessions ORDER BY last_used_ms DESC LIMIT ?)",
            (keep,),
        )

    def __len__(self) -> int:
        return int(self._run("SELECT COUNT(*) FROM web_sessions", ())[0][0])

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()

    def _run(self, query: str, parameters: tuple[object, ...]) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._db.execute(query, parameters).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"web sessions file: {exc}") from exc


def _create_private(path: Path) -> None:
    """Create the file with mode 0600 if it does not exist (SQLite gives -wal/-shm the same mode)."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except OSError as exc:
        raise StoreError(f"cannot create the web sessions file {path}: {exc.strerror or exc}") from exc
    os.close(descriptor)

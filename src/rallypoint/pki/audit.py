"""The append-only audit log: one JSON object per line, each chained to the one before.

Entry: ``{"seq":n,"time":"…Z","kind":"…", …fields, "prev":"<hex>","hash":"<hex>"}`` where
``hash`` is the SHA-256 of the entry without ``hash`` as canonical JSON (sorted keys, no
spaces, ASCII), and ``prev`` is the previous entry's ``hash`` (64 zeros for the first). Editing,
inserting, removing or reordering any entry breaks the chain at that point, and
:func:`verify_audit_log` names the first line that does not fit.

What a chain cannot show by itself: removing the *last* entries, or rewriting every hash after
an edit. ``rallypoint audit verify`` therefore prints the entry count and the last hash; keep
those somewhere else (a ticket, a notebook) to detect both.

Several processes append (the server, the admin commands): each append takes an exclusive
``flock`` on the file, reads the last entry if another writer has been there since, and writes
its line with one ``O_APPEND`` write. By default lines reach the kernel at once (they survive a
crash of the process) but are not ``fsync``-ed, which would stall the server's event loop for
milliseconds per connection; ``fsync=True`` also makes them survive a power cut.
"""

import fcntl
import hashlib
import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from rallypoint.errors import PkiError

GENESIS = "0" * 64
"""``prev`` of the first entry."""
MAX_FIELD_CHARS = 1024
"""Longer text fields are cut, so a hostile client cannot bloat the log through a callsign."""
RESERVED = frozenset({"seq", "time", "kind", "prev", "hash"})
_CHUNK = 8192


class AuditReport(NamedTuple):
    """What :func:`verify_audit_log` found: ``line`` is 1-based and set only when not ``ok``."""

    ok: bool
    entries: int
    problem: str | None
    line: int | None
    last_hash: str | None = None
    """Hash of the last good entry (write it down to detect removal of the final entries later)."""


class AuditLog:
    """Appends chained entries to one file; safe to share between threads and processes."""

    def __init__(self, path: Path, *, fsync: bool = False) -> None:
        self._path = path
        self._fsync = fsync
        self._lock = threading.Lock()
        self._last: tuple[int, int, str] | None = None
        """(file size, seq, hash) after our own last append: skip re-reading if nobody else wrote."""

    def append(self, kind: str, now: datetime, **fields: str | int | None) -> None:
        """Add one entry of ``kind`` (e.g. ``connection``, ``revocation``) at time ``now``."""
        clean = _clean(fields)
        with self._lock:
            try:
                fd = os.open(self._path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
            except OSError as exc:
                raise PkiError(f"cannot open the audit log {self._path}: {exc.strerror or exc}") from exc
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                self._append_locked(fd, kind, now, clean)
            except OSError as exc:
                raise PkiError(f"cannot write the audit log {self._path}: {exc.strerror or exc}") from exc
            finally:
                os.close(fd)

    def _append_locked(self, fd: int, kind: str, now: datetime, fields: dict[str, Any]) -> None:
        size = os.fstat(fd).st_size
        if self._last is not None and self._last[0] == size:
            seq, prev = self._last[1], self._last[2]
        else:
            seq, prev = _last_entry(fd, size, self._path)
        entry: dict[str, Any] = {"seq": seq + 1, "time": _stamp(now), "kind": kind, **fields, "prev": prev}
        entry["hash"] = entry_hash(entry)
        line = (json.dumps(entry, ensure_ascii=True, separators=(",", ":")) + "\n").encode("ascii")
        os.write(fd, line)
        if self._fsync:
            os.fsync(fd)
        self._last = (size + len(line), seq + 1, entry["hash"])


def entry_hash(entry: dict[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of ``entry`` without its ``hash`` key."""
    body = {key: value for key, value in entry.items() if key != "hash"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def verify_audit_log(path: Path) -> AuditReport:
    """Check the whole chain; the report names the first line that was changed or misplaced."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return AuditReport(ok=True, entries=0, problem=None, line=None)
    except OSError as exc:
        raise PkiError(f"cannot read the audit log {path}: {exc.strerror or exc}") from exc
    lines = data.split(b"\n")
    prev = GENESIS
    for number, raw in enumerate(lines[:-1], start=1):
        prev, problem = _check_line(raw, number, prev)
        if problem is not None:
            return AuditReport(ok=False, entries=number - 1, problem=problem, line=number, last_hash=prev)
    count = len(lines) - 1
    if lines[-1]:
        return AuditReport(False, count, "the last line is incomplete (cut off)", count + 1, prev)
    return AuditReport(ok=True, entries=count, problem=None, line=None, last_hash=prev if count else None)


def _check_line(raw: bytes, number: int, prev: str) -> tuple[str, str | None]:
    """``(this entry's hash, None)`` if line ``number`` fits after ``prev``, else ``(prev, problem)``."""
    entry = _parse(raw)
    if isinstance(entry, str):
        return prev, entry
    problem = _misfit(entry, number, prev)
    return (str(entry["hash"]), None) if problem is None else (prev, problem)


def _misfit(entry: dict[str, Any], number: int, prev: str) -> str | None:
    """Why ``entry`` cannot be line ``number`` after an entry whose hash is ``prev``, or None."""
    if entry.get("hash") != entry_hash(entry):
        return "the entry's hash does not match its content (edited)"
    if entry.get("prev") != prev:
        return "the entry does not follow the one before it (entries changed, removed or reordered)"
    if entry.get("seq") != number:
        return f"sequence number {entry.get('seq')} where {number} was expected"
    return None


def _parse(raw: bytes) -> dict[str, Any] | str:
    """The entry on one line, or what is wrong with the line."""
    try:
        entry = json.loads(raw, object_pairs_hook=_no_duplicates)
    except ValueError:
        return "not a JSON object"
    if not isinstance(entry, dict):
        return "not a JSON object"
    kinds = {"seq": int, "time": str, "kind": str, "prev": str, "hash": str}
    if any(not isinstance(entry.get(key), kind) for key, kind in kinds.items()) or isinstance(
        entry["seq"], bool
    ):
        return "an entry without seq, time, kind, prev and hash"
    return entry


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Refuse repeated keys: a reader could be shown one value while the hash covers the other."""
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate key")
    return result


def _last_entry(fd: int, size: int, path: Path) -> tuple[int, str]:
    """``(seq, hash)`` of the last line, read backwards from the end; (0, GENESIS) if empty."""
    if size == 0:
        return 0, GENESIS
    tail = b""
    position = size
    while position > 0 and b"\n" not in tail[:-1]:
        step = min(_CHUNK, position)
        position -= step
        tail = os.pread(fd, step, position) + tail
    if not tail.endswith(b"\n"):
        raise PkiError(f"the audit log {path} ends in an incomplete line; run `rallypoint audit verify`")
    entry = _parse(tail[:-1].rsplit(b"\n", 1)[-1])
    if isinstance(entry, str) or entry["hash"] != entry_hash(entry):
        raise PkiError(f"the last entry of the audit log {path} is damaged; run `rallypoint audit verify`")
    return int(entry["seq"]), str(entry["hash"])


def _clean(fields: dict[str, str | int | None]) -> dict[str, str | int | None]:
    reserved = RESERVED & fields.keys()
    if reserved:
        raise PkiError(f"audit fields may not be named {', '.join(sorted(reserved))}")
    return {
        key: value[:MAX_FIELD_CHARS] if isinstance(value, str) else value for key, value in fields.items()
    }


def _stamp(now: datetime) -> str:
    if now.tzinfo is None:
        raise PkiError("audit times must be timezone-aware")
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"

"""The hash-chained audit log: appending, reopening, several writers, and tamper detection."""

import hashlib
import itertools
import json
import multiprocessing
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from rallypoint.errors import PkiError
from rallypoint.pki.audit import GENESIS, MAX_FIELD_CHARS, AuditLog, entry_hash, verify_audit_log

NOW = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
Change = Callable[[list[str]], list[str]]


def entries(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    path = tmp_path / "audit.log"
    log = AuditLog(path)
    for i in range(5):
        log.append(
            "connection", NOW + timedelta(seconds=i), user=f"user{i}", address="127.0.0.1", port=40000 + i
        )
    return path


def test_entries_are_chained_json_lines(log_path: Path) -> None:
    written = entries(log_path)
    assert [e["seq"] for e in written] == [1, 2, 3, 4, 5]
    first = written[0]
    assert first == {
        "seq": 1,
        "time": "2026-03-01T12:00:00.123Z",
        "kind": "connection",
        "user": "user0",
        "address": "127.0.0.1",
        "port": 40000,
        "prev": GENESIS,
        "hash": first["hash"],
    }
    canonical = json.dumps(
        {k: v for k, v in first.items() if k != "hash"}, sort_keys=True, separators=(",", ":")
    )
    assert first["hash"] == hashlib.sha256(canonical.encode()).hexdigest()
    assert all(later["prev"] == earlier["hash"] for earlier, later in itertools.pairwise(written))
    report = verify_audit_log(log_path)
    assert (report.ok, report.entries, report.problem, report.line) == (True, 5, None, None)
    assert report.last_hash == written[-1]["hash"]


def test_a_reopened_log_continues_the_chain(log_path: Path) -> None:
    AuditLog(log_path).append("revocation", NOW, user="user1", count=2, note=None)
    written = entries(log_path)
    assert written[-1]["seq"] == 6
    assert written[-1]["prev"] == written[-2]["hash"]
    assert written[-1]["note"] is None
    assert verify_audit_log(log_path).ok


def test_two_writers_interleave_without_forking_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    server, admin = AuditLog(path), AuditLog(path)
    for i in range(6):
        (server if i % 2 else admin).append("connection", NOW, n=i)
    assert [e["n"] for e in entries(path)] == list(range(6))
    assert verify_audit_log(path).ok


def _append_many(path: str, who: int) -> None:
    log = AuditLog(Path(path))
    for i in range(25):
        log.append("connection", datetime.now(UTC), who=who, n=i)


def test_several_processes_append_to_one_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_append_many, args=(str(path), who)) for who in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    report = verify_audit_log(path)
    assert (report.ok, report.entries) == (True, 75)


def _rewrite(path: Path, change: Change) -> None:
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(change(lines)))


def _edit_field(lines: list[str]) -> list[str]:
    entry = json.loads(lines[2])
    entry["user"] = "mallory"
    return [*lines[:2], json.dumps(entry, separators=(",", ":")) + "\n", *lines[3:]]


def _edit_and_rehash(lines: list[str]) -> list[str]:
    """An editor who also fixes the edited entry's own hash still breaks the next link."""
    entry = json.loads(lines[2])
    entry["user"] = "mallory"
    entry["hash"] = entry_hash(entry)
    return [*lines[:2], json.dumps(entry, separators=(",", ":")) + "\n", *lines[3:]]


def _insert_forged(lines: list[str]) -> list[str]:
    """A forged entry that chains correctly to its predecessor; its successor no longer does."""
    previous = json.loads(lines[1])
    forged = {
        "seq": 3,
        "time": previous["time"],
        "kind": "connection",
        "user": "ghost",
        "prev": previous["hash"],
    }
    forged["hash"] = entry_hash(forged)
    return [*lines[:2], json.dumps(forged) + "\n", *lines[2:]]


@pytest.mark.parametrize(
    ("change", "line"),
    [
        (_edit_field, 3),
        (_edit_and_rehash, 4),
        (lambda lines: lines[:2] + lines[3:], 3),
        (lambda lines: [lines[0], lines[2], lines[1], *lines[3:]], 2),
        (_insert_forged, 4),
        (lambda lines: [*lines[:2], lines[1], *lines[2:]], 3),
        (lambda lines: [lines[0], lines[1][:40] + "\n", *lines[2:]], 2),
        (lambda lines: [*lines[:4], lines[4].rstrip("\n")[:-10]], 5),
        (lambda lines: lines[1:], 1),
        (lambda lines: [lines[0], "\n", *lines[1:]], 2),
        (lambda lines: [lines[0], lines[1].replace('"kind"', '"kind":"x","kind"', 1), *lines[2:]], 2),
    ],
    ids=[
        "edit-a-field",
        "edit-and-rehash",
        "delete-a-middle-line",
        "swap-two-lines",
        "insert-a-forged-line",
        "duplicate-a-line",
        "truncate-a-middle-line",
        "cut-the-last-line",
        "delete-the-first-line",
        "insert-a-blank-line",
        "duplicate-key",
    ],
)
def test_tampering_is_detected_at_the_first_bad_line(
    log_path: Path,
    change: Change,
    line: int,
) -> None:
    _rewrite(log_path, change)
    report = verify_audit_log(log_path)
    assert not report.ok
    assert report.line == line, report
    assert report.entries == line - 1
    assert report.problem


def test_removing_the_last_entries_shows_only_in_count_and_last_hash(log_path: Path) -> None:
    """Documented limit: the file alone cannot show that its tail was cut off cleanly."""
    full = verify_audit_log(log_path)
    _rewrite(log_path, lambda lines: lines[:-2])
    cut = verify_audit_log(log_path)
    assert cut.ok
    assert (cut.entries, full.entries) == (3, 5)
    assert cut.last_hash != full.last_hash


def test_appending_after_a_damaged_tail_is_refused(log_path: Path) -> None:
    _rewrite(log_path, lambda lines: [*lines[:-1], lines[-1].replace("user4", "mallory")])
    with pytest.raises(PkiError, match="damaged"):
        AuditLog(log_path).append("connection", NOW)
    _rewrite(log_path, lambda lines: [*lines[:-1], lines[-1].rstrip("\n")])
    with pytest.raises(PkiError, match="incomplete"):
        AuditLog(log_path).append("connection", NOW)


def test_missing_log_is_empty_and_fields_are_checked(tmp_path: Path) -> None:
    assert verify_audit_log(tmp_path / "audit.log") == (True, 0, None, None, None)
    log = AuditLog(tmp_path / "audit.log")
    with pytest.raises(PkiError, match="may not be named"):
        log.append("connection", NOW, hash="0")
    with pytest.raises(PkiError, match="timezone-aware"):
        log.append("connection", datetime(2026, 1, 1))
    log.append("spoofing_refused", NOW, callsign="x" * 5000, uid="évènement")
    (entry,) = entries(tmp_path / "audit.log")
    assert len(entry["callsign"]) == MAX_FIELD_CHARS
    assert entry["uid"] == "évènement"
    assert (tmp_path / "audit.log").read_bytes().isascii()
    assert verify_audit_log(tmp_path / "audit.log").ok


def test_log_file_is_private(tmp_path: Path) -> None:
    AuditLog(tmp_path / "audit.log", fsync=True).append("user_added", NOW, user="alice")
    assert (tmp_path / "audit.log").stat().st_mode & 0o077 == 0

"""The identity store: users, groups, certificates, revocation, revision, and two processes' view."""

import sqlite3
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509

from rallypoint.errors import PkiError
from rallypoint.pki import identities
from rallypoint.pki.authority import CertificateAuthority
from rallypoint.pki.identities import IdentitySnapshot, IdentityStore, User

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[IdentityStore]:
    opened = IdentityStore(tmp_path / "identity.sqlite3")
    yield opened
    opened.close()


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> list[x509.Certificate]:
    authority = CertificateAuthority.load_or_create(tmp_path_factory.mktemp("ca"), ["localhost"], NOW)
    return [authority.issue("alice", NOW, 30)[0] for _ in range(3)]


def test_users_and_groups(store: IdentityStore) -> None:
    added = store.add_user("Alice", "pw-a", ["blue", "red", "blue"], role="Team Lead")
    assert added == User("Alice", frozenset({"blue", "red"}), "Team Lead", disabled=False)
    store.add_user("bob", "pw-b", ["red"])
    assert store.user("ALICE") == added, "names are case-insensitive"
    assert store.user("carol") is None
    assert [u.name for u in store.users()] == ["Alice", "bob"]
    assert store.user("bob") == User("bob", frozenset({"red"}), None, disabled=False)
    store.set_groups("alice", ["green"])
    assert store.user("Alice").groups == frozenset({"green"})
    store.add_user("nobody", "pw", [])
    assert store.user("nobody").groups == frozenset()


def test_names_are_unique_without_regard_to_case(store: IdentityStore) -> None:
    store.add_user("alice", "pw", ["blue"])
    with pytest.raises(PkiError, match="already exists"):
        store.add_user("ALICE", "pw", ["blue"])


@pytest.mark.parametrize("name", ["", "a:b", "al ice", "-x", "x" * 65, "é"])
def test_unsafe_user_names_are_refused(store: IdentityStore, name: str) -> None:
    with pytest.raises(PkiError, match="invalid user name"):
        store.add_user(name, "pw", ["blue"])


@pytest.mark.parametrize("group", ["", " padded", "x" * 65, "tab\there"])
def test_unsafe_group_names_are_refused(store: IdentityStore, group: str) -> None:
    with pytest.raises(PkiError, match="invalid group"):
        store.add_user("alice", "pw", [group])


def test_unsafe_roles_are_refused(store: IdentityStore) -> None:
    with pytest.raises(PkiError, match="invalid role"):
        store.add_user("alice", "pw", ["blue"], role="Team\nLead")


def test_unknown_users_are_errors_for_changes(store: IdentityStore) -> None:
    for change in (
        lambda: store.set_password("ghost", "pw"),
        lambda: store.set_disabled("ghost", True),
        lambda: store.set_groups("ghost", ["x"]),
        lambda: store.revoke("ghost", NOW),
    ):
        with pytest.raises(PkiError, match="no user named ghost"):
            change()


def test_authenticate(store: IdentityStore) -> None:
    store.add_user("alice", "right", ["blue"])
    assert store.authenticate("ALICE", "right") == store.user("alice")
    assert store.authenticate("alice", "wrong") is None
    assert store.authenticate("ghost", "right") is None
    store.set_password("alice", "new")
    assert store.authenticate("alice", "right") is None
    assert store.authenticate("alice", "new") is not None
    store.set_disabled("alice", True)
    assert store.authenticate("alice", "new") is None
    assert store.user("alice").disabled
    store.set_disabled("alice", False)
    assert store.authenticate("alice", "new") is not None


def test_unknown_users_cost_a_hash_too(store: IdentityStore, monkeypatch: pytest.MonkeyPatch) -> None:
    checked: list[str] = []
    real = identities.verify_password
    monkeypatch.setattr(
        identities, "verify_password", lambda pw, stored: checked.append(stored) or real(pw, stored)
    )
    store.add_user("alice", "right", ["blue"])
    assert store.authenticate("ghost", "right") is None
    assert store.authenticate("alice", "wrong") is None
    assert len(checked) == 2
    assert checked[0].split("$")[:4] == checked[1].split("$")[:4], "same scrypt cost either way"


def test_certificates_and_revocation(store: IdentityStore, certificates: list[x509.Certificate]) -> None:
    store.add_user("Alice", "pw", ["blue"])
    store.add_user("bob", "pw", ["blue"])
    first = store.record_certificate(certificates[0], "alice", client_uid="ANDROID-1")
    assert first.user == "Alice", "the stored spelling of the name"
    assert first.serial == certificates[0].serial_number
    assert first.serial.bit_length() > 63, "serials beyond SQLite's integers survive"
    assert first.not_after == certificates[0].not_valid_after_utc
    assert len(first.fingerprint) == 64
    store.record_certificate(certificates[1], "Alice")
    store.record_certificate(certificates[2], "bob")
    with pytest.raises(PkiError, match="already recorded"):
        store.record_certificate(certificates[2], "bob")
    with pytest.raises(PkiError, match="no user"):
        store.record_certificate(certificates[2], "ghost")
    assert store.certificate(certificates[0].serial_number) == first
    assert store.certificate(12345) is None
    assert [r.serial for r in store.certificates("ALICE")] == [c.serial_number for c in certificates[:2]]
    assert len(store.certificates()) == 3

    revoked = store.revoke("alice", NOW)
    assert {r.serial for r in revoked} == {c.serial_number for c in certificates[:2]}
    assert all(r.revoked_at == NOW for r in revoked)
    assert store.revoke("alice", NOW + timedelta(hours=1)) == [], "already revoked ones stay as they were"
    assert sorted(store.revoked()) == sorted((c.serial_number, NOW) for c in certificates[:2])
    assert store.certificate(certificates[2].serial_number).revoked_at is None


def test_revision_grows_with_every_change(store: IdentityStore, certificates: list[x509.Certificate]) -> None:
    seen = [store.revision()]
    for change in (
        lambda: store.add_user("alice", "pw", ["blue"]),
        lambda: store.set_groups("alice", ["red"]),
        lambda: store.set_password("alice", "pw2"),
        lambda: store.set_disabled("alice", True),
        lambda: store.record_certificate(certificates[0], "alice"),
        lambda: store.revoke("alice", NOW),
    ):
        change()
        seen.append(store.revision())
    assert seen == sorted(set(seen)), seen
    store.users()
    store.authenticate("alice", "pw2")
    assert store.revision() == seen[-1], "reads change nothing"
    with pytest.raises(PkiError):
        store.add_user("alice", "pw", ["blue"])
    assert store.revision() == seen[-1], "a failed change is rolled back entirely"


def test_two_stores_on_one_file_see_each_others_changes(
    tmp_path: Path, certificates: list[x509.Certificate]
) -> None:
    """The server's store sees what the admin command's store wrote, revision first."""
    path = tmp_path / "identity.sqlite3"
    with IdentityStore(path) as server, IdentityStore(path) as admin:
        before = server.revision()
        admin.add_user("alice", "pw", ["blue"])
        admin.record_certificate(certificates[0], "alice")
        assert server.revision() > before
        assert server.user("alice") is not None
        admin.revoke("alice", NOW)
        assert server.revoked() == [(certificates[0].serial_number, NOW)]


def test_a_snapshot_is_one_revision_of_users_and_revocations(
    store: IdentityStore, certificates: list[x509.Certificate]
) -> None:
    store.add_user("Alice", "pw", ["blue"])
    store.add_user("bob", "pw", ["red"])
    store.record_certificate(certificates[0], "Alice")
    store.record_certificate(certificates[1], "Alice")
    store.revoke("alice", NOW)
    store.record_certificate(certificates[2], "Alice")
    store.set_disabled("bob", True)
    snapshot = store.snapshot()
    assert snapshot == IdentitySnapshot(
        store.revision(),
        {"alice": store.user("alice"), "bob": store.user("bob")},
        {certificates[0].serial_number: NOW, certificates[1].serial_number: NOW},
    )
    assert snapshot.user("ALICE") == User("Alice", frozenset({"blue"}), None, disabled=False)
    assert snapshot.user("carol") is None


_OTHER_PROCESS = """
import sys
from pathlib import Path
from rallypoint.pki.identities import IdentityStore

with IdentityStore(Path(sys.argv[1])) as store:
    for i in range(int(sys.argv[3])):
        store.add_user(f"{sys.argv[2]}{i}", "pw", ["blue"])
"""


def _other_process_adds(path: Path, prefix: str, count: int) -> None:
    """What ``rallypoint user add`` does: its own store, written, then closed (its last close
    would checkpoint and delete the WAL if it believed no other process had the file open)."""
    subprocess.run(
        [sys.executable, "-c", _OTHER_PROCESS, str(path), prefix, str(count)], check=True, timeout=60
    )


def test_opening_a_second_store_in_a_process_keeps_its_locks(tmp_path: Path) -> None:
    """Regression: opening a store used to open and close a descriptor of the database file,
    which drops every POSIX lock of the process on it; an admin command in another process then
    deleted the WAL the server still read, and the file ended up malformed."""
    path = tmp_path / "identity.sqlite3"
    wal = tmp_path / "identity.sqlite3-wal"
    with IdentityStore(path) as server:
        server.add_user("alice", "pw", ["blue"])
        with IdentityStore(path) as second:
            assert second.user("alice") is not None
            _other_process_adds(path, "cli", 20)
            assert wal.exists(), "another process deleted the WAL this one reads"
            assert len(server.users()) == 21
            server.add_user("bob", "pw", ["red"])
            _other_process_adds(path, "again", 5)
            assert {user.name for user in second.users()} >= {"alice", "bob", "cli0", "again4"}
        assert len(server.users()) == 27
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert db.execute("SELECT count(*) FROM users").fetchone() == (27,)


def test_concurrent_writers_do_not_lose_changes(tmp_path: Path) -> None:
    path = tmp_path / "identity.sqlite3"
    stores = [IdentityStore(path) for _ in range(4)]
    stores[0].add_user("alice", "pw", ["blue"])
    start = stores[0].revision()
    errors: list[BaseException] = []

    def toggle(store: IdentityStore) -> None:
        try:
            for i in range(10):
                store.set_disabled("alice", i % 2 == 0)
        except BaseException as exc:  # noqa: BLE001 -- reported to the test thread
            errors.append(exc)

    threads = [threading.Thread(target=toggle, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert stores[0].revision() == start + 40
    for store in stores:
        store.close()


def test_store_file_is_private_and_errors_are_typed(tmp_path: Path) -> None:
    path = tmp_path / "identity.sqlite3"
    with IdentityStore(path) as first:
        first.add_user("carol", "pw", ["blue"])
        for name in ("identity.sqlite3", "identity.sqlite3-wal", "identity.sqlite3-shm"):
            assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
    IdentityStore(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(PkiError, match="cannot open"):
        IdentityStore(tmp_path / "missing" / "identity.sqlite3")
    with IdentityStore(path) as store:
        store.add_user("alice", "pw", ["blue"])
        with pytest.raises(PkiError, match="timezone-aware"):
            store.revoke("alice", datetime(2026, 1, 1))


def test_one_certificate_is_revoked_and_issued_ones_keep_their_der(
    store: IdentityStore, certificates: list[x509.Certificate]
) -> None:
    store.add_user("alice", "pw", ["blue"])
    first, second = (store.record_certificate(c, "alice") for c in certificates[:2])
    revision = store.revision()
    revoked = store.revoke_certificate(first.serial, NOW)
    assert revoked is not None
    assert revoked.revoked_at == NOW
    assert store.revision() > revision, "the identity watch sees the change"
    assert store.revoke_certificate(first.serial, NOW) is None, "already revoked"
    assert store.revoke_certificate(12345, NOW) is None, "never issued here"
    assert [serial for serial, _ in store.revoked()] == [first.serial]
    issued = store.issued()
    assert [row.record.serial for row in issued] == [first.serial, second.serial]
    assert issued[0].id < issued[1].id
    assert issued[1].der is not None
    assert x509.load_der_x509_certificate(issued[1].der) == certificates[1]
    assert issued[1].record.revoked_at is None

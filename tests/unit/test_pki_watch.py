"""The identity watch: what its subscribers are told, when the CRL is re-signed; time passed in."""

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509

from rallypoint.errors import PkiError
from rallypoint.pki.authority import CertificateAuthority
from rallypoint.pki.identities import IdentitySnapshot, IdentityStore
from rallypoint.pki.watch import CRL_RESIGN_S, IdentityWatch

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class Parts:
    authority: CertificateAuthority
    server: IdentityStore
    admin: IdentityStore
    """Another connection to the file, as the admin commands have."""
    told: list[str | IdentitySnapshot] = field(default_factory=list)
    """Snapshots given to the subscriber and ``"crl"`` for each CRL rewrite, in order."""

    def watch(self, authority: bool = True) -> IdentityWatch:
        watch = IdentityWatch(self.server, self.authority if authority else None, NOW)
        watch.subscribe(self.told.append)
        watch.on_crl(lambda: self.told.append("crl"))
        return watch

    def crl(self) -> x509.CertificateRevocationList:
        return x509.load_pem_x509_crl(self.authority.paths.crl.read_bytes())


@pytest.fixture
def parts(tmp_path: Path) -> Iterator[Parts]:
    authority = CertificateAuthority.load_or_create(tmp_path, ["localhost"], NOW - timedelta(days=1))
    with (
        IdentityStore(tmp_path / "identity.sqlite3") as server,
        IdentityStore(tmp_path / "identity.sqlite3") as admin,
    ):
        admin.add_user("alice", "pw", ["blue"])
        yield Parts(authority, server, admin)


def test_it_starts_from_the_store_and_signs_the_crl(parts: Parts) -> None:
    watch = parts.watch()
    assert watch.snapshot == parts.server.snapshot()
    assert parts.crl().last_update_utc == NOW
    assert not watch.refresh(NOW + timedelta(seconds=1))
    assert parts.told == []


def test_a_change_is_told_once_with_the_new_users(parts: Parts) -> None:
    watch = parts.watch()
    parts.admin.set_groups("alice", ["red"])
    parts.admin.add_user("bob", "pw", ["blue"])
    assert watch.refresh(NOW)
    (snapshot,) = parts.told
    assert isinstance(snapshot, IdentitySnapshot)
    alice = snapshot.user("alice")
    assert alice is not None
    assert alice.groups == {"red"}
    assert snapshot.user("bob") is not None
    assert watch.snapshot == snapshot
    assert not watch.refresh(NOW)
    assert len(parts.told) == 1


def test_a_revocation_is_told_then_the_crl_lists_it(parts: Parts) -> None:
    watch = parts.watch()
    certificate, _ = parts.authority.issue("alice", NOW, 30)
    parts.admin.record_certificate(certificate, "alice")
    assert watch.refresh(NOW)
    assert parts.told == [watch.snapshot], "a new certificate changes no CRL"
    parts.admin.revoke("alice", NOW)
    later = NOW + timedelta(minutes=1)
    assert watch.refresh(later)
    assert parts.told[1:] == [watch.snapshot, "crl"], "connections are cut before the CRL is written"
    assert certificate.serial_number in watch.snapshot.revoked
    crl = parts.crl()
    assert crl.last_update_utc == later
    assert crl.get_revoked_certificate_by_serial_number(certificate.serial_number) is not None


def test_the_crl_is_re_signed_after_a_day_without_changes(parts: Parts) -> None:
    watch = parts.watch()
    assert not watch.refresh(NOW + timedelta(seconds=CRL_RESIGN_S))
    assert parts.told == []
    next_day = NOW + timedelta(seconds=CRL_RESIGN_S + 1)
    assert not watch.refresh(next_day)
    assert parts.told == ["crl"]
    assert parts.crl().last_update_utc == next_day
    assert not watch.refresh(next_day + timedelta(hours=1))
    assert parts.told == ["crl"]


def test_without_a_ca_there_is_no_crl(parts: Parts) -> None:
    parts.authority.paths.crl.unlink()
    watch = parts.watch(authority=False)
    parts.admin.revoke("alice", NOW)
    assert watch.refresh(NOW + timedelta(days=2))
    assert parts.told == [watch.snapshot]
    assert not parts.authority.paths.crl.exists()


def test_a_failing_subscriber_is_told_again_at_the_next_refresh(parts: Parts) -> None:
    watch = parts.watch()
    failures = [PkiError("busy")]

    def flaky(snapshot: IdentitySnapshot) -> None:
        if failures:
            raise failures.pop()

    watch.subscribe(flaky)
    parts.admin.set_disabled("alice", True)
    with pytest.raises(PkiError, match="busy"):
        watch.refresh(NOW)
    assert watch.refresh(NOW)
    assert len(parts.told) == 2
    assert parts.told[0] == parts.told[1] == watch.snapshot


def test_unsubscribed_listeners_are_not_told(parts: Parts) -> None:
    watch = IdentityWatch(parts.server, parts.authority, NOW)
    told: list[object] = []
    unsubscribe = watch.subscribe(told.append)
    off_crl = watch.on_crl(lambda: told.append("crl"))
    unsubscribe()
    unsubscribe()
    off_crl()
    certificate, _ = parts.authority.issue("alice", NOW, 30)
    parts.admin.record_certificate(certificate, "alice")
    parts.admin.revoke("alice", NOW)
    assert watch.refresh(NOW)
    assert certificate.serial_number in watch.snapshot.revoked
    assert parts.crl().get_revoked_certificate_by_serial_number(certificate.serial_number) is not None
    assert told == []

"""User records shared between the identity stores of a cluster's nodes: export and merge."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509

from rallypoint.errors import PkiError
from rallypoint.pki.authority import CertificateAuthority
from rallypoint.pki.identities import IdentityStore
from rallypoint.pki.replica import export_records, from_json, merge_record

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[tuple[IdentityStore, IdentityStore]]:
    here, there = IdentityStore(tmp_path / "here.sqlite3"), IdentityStore(tmp_path / "there.sqlite3")
    yield here, there
    here.close()
    there.close()


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> list[x509.Certificate]:
    authority = CertificateAuthority.load_or_create(tmp_path_factory.mktemp("ca"), ["localhost"], NOW)
    return [authority.issue("alice", NOW, 30)[0] for _ in range(2)]


def test_a_record_round_trips_and_merges_into_an_empty_store(
    stores: tuple[IdentityStore, IdentityStore], certificates: list[x509.Certificate]
) -> None:
    here, there = stores
    here.add_user("Alice", "secret", ["ops", "blue"], role="lead")
    here.record_certificate(certificates[0], "alice", client_uid="ANDROID-1")
    record = export_records(here)["alice"]
    assert from_json(record.to_json()) == record
    assert merge_record(there, from_json(record.to_json())) == 0
    assert export_records(there) == {"alice": record}
    assert there.authenticate("alice", "secret") is not None  # the hash travelled, not the password
    assert there.certificate(certificates[0].serial_number) is not None


def test_certificates_and_revocations_only_grow_whatever_the_order(
    stores: tuple[IdentityStore, IdentityStore], certificates: list[x509.Certificate]
) -> None:
    here, there = stores
    here.add_user("alice", "secret", ["ops"])
    here.record_certificate(certificates[0], "alice")
    older = export_records(here)["alice"]
    here.revoke("alice", NOW + timedelta(hours=1))
    revoked = export_records(here)["alice"]
    merge_record(there, older)
    there.record_certificate(certificates[1], "alice")  # issued on the other node meanwhile
    assert merge_record(there, revoked) == 1
    assert merge_record(there, older) == 0  # an older record undoes no revocation
    merged = export_records(there)["alice"]
    assert merged.revoked == {format(certificates[0].serial_number, "x")}
    assert len(merged.certificates) == 2


def test_a_local_change_not_yet_shared_keeps_its_fields(stores: tuple[IdentityStore, IdentityStore]) -> None:
    here, there = stores
    here.add_user("alice", "secret", ["ops"])
    merge_record(there, export_records(here)["alice"])
    there.set_groups("alice", ["blue"])
    here.set_groups("alice", ["red"])
    merge_record(there, export_records(here)["alice"], fields_too=False)
    assert there.user("alice").groups == {"blue"}  # type: ignore[union-attr]
    merge_record(there, export_records(here)["alice"])
    assert there.user("alice").groups == {"red"}  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        '{"name": "alice"}',
        '{"name": "../x", "password": "p", "role": null, "disabled": false, "groups": [], "certificates": []}',
        '{"name": "a", "password": "p", "role": null, "disabled": false, "groups": [],'
        ' "certificates": [["zz", "t", "t", null, null, "f"]]}',
    ],
)
def test_what_is_not_a_record_is_refused(text: str) -> None:
    with pytest.raises(PkiError):
        from_json(text)

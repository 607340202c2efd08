"""scrypt password hashes: format, salt, verification, and refusal of nonsense parameters."""

import hashlib

import pytest

from rallypoint.errors import PkiError
from rallypoint.pki import passwords
from rallypoint.pki.passwords import dummy_hash, hash_password, verify_password


def test_hash_records_scrypt_parameters_and_a_fresh_salt() -> None:
    first, second = hash_password("correct horse"), hash_password("correct horse")
    scheme, n, r, p, _, digest = first.split("$")
    assert (scheme, int(n), int(r), int(p)) == ("scrypt", 2**15, 8, 1)
    assert first != second, "each hash has its own salt"
    assert "correct horse" not in first
    assert len(digest) >= 40


def test_verify_accepts_only_the_right_password() -> None:
    stored = hash_password("correct horse")
    assert verify_password("correct horse", stored)
    assert not verify_password("correct hors", stored)
    assert not verify_password("Correct horse", stored)
    assert not verify_password("", stored)


def test_stored_parameters_are_used_so_costs_can_change_later() -> None:
    salt = b"0123456789abcdef"
    digest = hashlib.scrypt(b"pw", salt=salt, n=2**10, r=8, p=2, dklen=32)
    stored = "$".join(["scrypt", "1024", "8", "2", passwords._b64(salt), passwords._b64(digest)])
    assert verify_password("pw", stored)
    assert not verify_password("pw2", stored)


@pytest.mark.parametrize(
    "stored",
    ["", "bcrypt$x", "scrypt$1000$8$1$AAAA$AAAA", "scrypt$4194304$8$1$AAAA$AAAA", "scrypt$1024$8$1$!!$AAAA"],
    ids=["empty", "other-scheme", "n-not-power-of-two", "n-too-large", "bad-base64"],
)
def test_malformed_stored_hashes_are_errors(stored: str) -> None:
    with pytest.raises(PkiError):
        verify_password("pw", stored)


def test_empty_and_huge_passwords_are_refused() -> None:
    with pytest.raises(PkiError, match="empty"):
        hash_password("")
    with pytest.raises(PkiError, match="at most"):
        hash_password("x" * 1025)


def test_dummy_hash_is_a_real_hash_of_the_same_cost() -> None:
    assert dummy_hash() == dummy_hash()
    assert dummy_hash().split("$")[:4] == hash_password("x").split("$")[:4]
    assert not verify_password("", dummy_hash())

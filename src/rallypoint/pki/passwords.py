"""Password hashing with scrypt (stdlib ``hashlib``), parameters stored with each hash.

scrypt is memory-hard, so guessing a stolen hash costs memory as well as time on GPUs and
ASICs. n=2**15, r=8, p=1 takes 32 MiB and roughly 50-100 ms per check on a server core: slow
for an attacker trying millions of passwords, affordable for a login. The stored form is
``scrypt$<n>$<r>$<p>$<salt>$<hash>`` (base64), so the cost can be raised later without
invalidating existing users.
"""

import base64
import functools
import hashlib
import hmac
import secrets

from rallypoint.errors import PkiError

SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
HASH_BYTES = 32
MAX_MEMORY = 64 * 1024 * 1024
"""OpenSSL's scrypt memory cap; hashlib's default (32 MiB) is just too small for n=2**15, r=8."""
MAX_N = 2**20
MAX_R = 32
MAX_P = 16
"""Upper bounds accepted when reading a stored hash, so an edited store cannot make a login hang."""
MAX_PASSWORD_CHARS = 1024
_SCHEME = "scrypt"


def hash_password(password: str) -> str:
    """A fresh salted scrypt hash of ``password`` in the stored text form."""
    if not password:
        raise PkiError("the password must not be empty")
    if len(password) > MAX_PASSWORD_CHARS:
        raise PkiError(f"the password must be at most {MAX_PASSWORD_CHARS} characters")
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(password, salt, (SCRYPT_N, SCRYPT_R, SCRYPT_P), HASH_BYTES)
    return "$".join([_SCHEME, str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(digest)])


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches ``stored`` (constant-time comparison of the digests)."""
    cost, salt, expected = _parse(stored)
    digest = _scrypt(password, salt, cost, len(expected))
    return hmac.compare_digest(digest, expected)


@functools.cache
def dummy_hash() -> str:
    """A hash no password matches in practice: checked for unknown users so that a login takes
    as long whether or not the name exists (no user enumeration by timing)."""
    return hash_password(secrets.token_urlsafe(32))


def _scrypt(password: str, salt: bytes, cost: tuple[int, int, int], length: int) -> bytes:
    n, r, p = cost
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=MAX_MEMORY, dklen=length)


def _parse(stored: str) -> tuple[tuple[int, int, int], bytes, bytes]:
    parts = stored.split("$")
    try:
        if len(parts) != 6 or parts[0] != _SCHEME:
            raise ValueError(parts[0])
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        salt, digest = base64.b64decode(parts[4], validate=True), base64.b64decode(parts[5], validate=True)
    except ValueError as exc:
        raise PkiError("a stored password hash is malformed") from exc
    if not (1 < n <= MAX_N and n & (n - 1) == 0 and 0 < r <= MAX_R and 0 < p <= MAX_P and digest):
        raise PkiError("a stored password hash has unsupported parameters")
    return (n, r, p), salt, digest


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")

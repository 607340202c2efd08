"""Mission passwords and subscription tokens: neither is ever kept in plain text.

Passwords are scrypt hashes with a random salt (verification is slow on purpose, so callers
run it in a thread). Tokens are random; the journal keeps only their SHA-256, which is
enough to recognise a token presented later and useless to anyone reading the database.
"""

import hashlib
import hmac
import secrets

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
KEY_BYTES = 32
TOKEN_BYTES = 32
MAX_PASSWORD_CHARS = 1024
"""Longer passwords are refused before hashing (scrypt cost grows with input)."""


def hash_password(password: str) -> str:
    """``scrypt$<n>$<r>$<p>$<salt hex>$<key hex>`` for ``password``."""
    salt = secrets.token_bytes(SALT_BYTES)
    key = _derive(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${key.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches the ``stored`` hash (constant-time comparison)."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt" or len(password) > MAX_PASSWORD_CHARS:
            return False
        derived = _derive(password, bytes.fromhex(salt), int(n), int(r), int(p))
        return hmac.compare_digest(derived, bytes.fromhex(key))
    except ValueError:
        return False


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=KEY_BYTES)


def new_token() -> str:
    """A fresh subscription token (URL-safe text)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_digest(token: str) -> str:
    """What the journal keeps of a token."""
    return hashlib.sha256(token.encode()).hexdigest()

"""PKCS#12 files for TAK clients: a client identity keystore and a CA truststore.

Encryption is PBES1 SHA1/3DES with a SHA-1 MAC, 2048 iterations: the combination Android's
keystore (ATAK) and older Java read, and what TAK Server's own files use. It is weak against
guessing a *weak* password, which is why every password here is random with 144 bits of
entropy (:func:`new_password`), generated per package and never the well-known ``atakatak``.
The truststore is written in the Java form (certificates marked as trusted), so ``keytool`` and
Android list the CA as a trusted-certificate entry.
"""

import secrets

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from rallypoint.pki.certificates import PrivateKey

PASSWORD_BYTES = 18
"""secrets.token_urlsafe(18): 24 URL-safe characters, 144 random bits."""
KDF_ROUNDS = 2048


def new_password() -> str:
    """A fresh random keystore password."""
    return secrets.token_urlsafe(PASSWORD_BYTES)


def client_keystore(
    name: str, certificate: x509.Certificate, key: PrivateKey, authority: x509.Certificate, password: str
) -> bytes:
    """The client's key and certificate, with the CA in the chain, as a PKCS#12 file."""
    return pkcs12.serialize_key_and_certificates(
        name=name.encode("utf-8"),
        key=key,
        cert=certificate,
        cas=[pkcs12.PKCS12Certificate(authority, _friendly_name(authority))],
        encryption_algorithm=_encryption(password),
    )


def truststore(authority: x509.Certificate, password: str) -> bytes:
    """The CA certificate as a Java-style PKCS#12 truststore (no key)."""
    return pkcs12.serialize_java_truststore(
        [pkcs12.PKCS12Certificate(authority, _friendly_name(authority))], _encryption(password)
    )


def _encryption(password: str) -> serialization.KeySerializationEncryption:
    return (
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(KDF_ROUNDS)
        .key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC)
        .hmac_hash(hashes.SHA1())  # noqa: S303 -- the MAC ATAK's keystore reads (docstring)
        .build(password.encode("utf-8"))
    )


def _friendly_name(certificate: x509.Certificate) -> bytes:
    names = certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    value = names[0].value if names else "ca"
    return value.encode("utf-8") if isinstance(value, str) else value

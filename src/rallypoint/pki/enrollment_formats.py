"""The bytes of TAK certificate enrollment (reference §4.6): pure functions, no I/O.

Requests: HTTP Basic credentials, ``Accept`` negotiation, the CSR body (base64 DER with or
without PEM armor, as ATAK, iTAK and pytak send it). Responses: the name-entry XML, and the
signed certificate as JSON, XML or the older PKCS#12 keystore.
"""

import base64
import binascii
from collections.abc import Iterable
from typing import NamedTuple
from xml.sax.saxutils import escape

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding, PrivateFormat, pkcs12

from rallypoint.errors import AuthenticationError, EnrollmentRefused

JSON = "json"
XML = "xml"
_FORMATS = {
    "*/*": JSON,
    "application/*": JSON,
    "application/json": JSON,
    "text/plain": JSON,  # iTAK sends this and expects the JSON (OpenTAKServer's observation)
    "application/xml": XML,
}
"""Media ranges of ``Accept`` we can satisfy, and the body each one gets."""

PKCS12_MEDIA_TYPE = "application/x-pkcs12"
LEGACY_KEYSTORE_PASSWORD = b"atakatak"
"""Fixed by the older ``signClient`` protocol: ATAK opens the answer with its built-in default
password. The keystore holds only public certificates (the server never has the client's key),
so the well-known password protects nothing secret."""
LEGACY_KDF_ROUNDS = 2048
"""PKCS#12 key-derivation rounds; the content is public, so only compatibility matters."""

_XML_ATTRIBUTE = {'"': "&quot;"}


class BasicCredentials(NamedTuple):
    """User name and password from an ``Authorization: Basic`` header."""

    name: str
    password: str


def parse_basic_auth(header: str | None) -> BasicCredentials | None:
    """The credentials, ``None`` without Basic credentials; AuthenticationError if unreadable.

    RFC 7617 leaves the charset open: UTF-8 is tried first, then ISO-8859-1, which Java HTTP
    clients use by default (and which decodes any bytes).
    """
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        raw = base64.b64decode(token.strip(), validate=True)
    except binascii.Error as exc:
        raise AuthenticationError("Basic credentials are not valid base64") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    name, colon, password = text.partition(":")
    if not colon:
        raise AuthenticationError("Basic credentials lack the ':' between name and password")
    return BasicCredentials(name, password)


def response_format(accept: str | None) -> str | None:
    """:data:`JSON` or :data:`XML`, whichever ``Accept`` prefers (ties: first listed);
    ``None`` if it allows neither. No ``Accept`` means JSON."""
    if accept is None or not accept.strip():
        return JSON
    best, best_quality = None, 0.0
    for item in accept.split(","):
        media_range, _, parameters = item.partition(";")
        form = _FORMATS.get(media_range.strip().lower())
        quality = _quality(parameters)
        if form is not None and quality > best_quality:
            best, best_quality = form, quality
    return best


def _quality(parameters: str) -> float:
    for parameter in parameters.split(";"):
        key, _, value = parameter.partition("=")
        if key.strip().lower() == "q":
            try:
                return float(value)
            except ValueError:
                return 1.0
    return 1.0


def config_xml(entries: Iterable[tuple[str, str]]) -> bytes:
    """``GET /Marti/api/tls/config``: the text TAK Server's JAXB marshaller produces."""
    names = "".join(
        f'<nameEntry name="{escape(name, _XML_ATTRIBUTE)}" value="{escape(value, _XML_ATTRIBUTE)}"/>'
        for name, value in entries
    )
    return (
        '<ns2:certificateConfig xmlns="http://bbn.com/marti/xml/config" xmlns:ns2="com.bbn.marti.config">'
        f"<nameEntries>{names}</nameEntries></ns2:certificateConfig>"
    ).encode()


def parse_csr(body: bytes) -> x509.CertificateSigningRequest:
    """A PKCS#10 request from PEM, or from bare base64 DER (line breaks allowed)."""
    text = body.strip()
    try:
        if text.startswith(b"-----BEGIN"):
            return x509.load_pem_x509_csr(text)
        return x509.load_der_x509_csr(base64.b64decode(b"".join(text.split()), validate=True))
    except ValueError as exc:  # binascii.Error is a ValueError too
        raise EnrollmentRefused("the body is not a PKCS#10 CSR (PEM, or base64 DER)") from exc


def _base64_der(certificate: x509.Certificate) -> str:
    return base64.b64encode(certificate.public_bytes(Encoding.DER)).decode("ascii")


def enrollment_json(certificate: x509.Certificate, ca: x509.Certificate) -> dict[str, str]:
    """``signClient/v2`` JSON: base64 DER without armor, the issuing CA as ``ca0``."""
    return {"signedCert": _base64_der(certificate), "ca0": _base64_der(ca)}


def enrollment_xml(certificate: x509.Certificate, ca: x509.Certificate) -> bytes:
    """``signClient/v2`` XML, for ``Accept: application/xml``."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?><enrollment>'
        f"<signedCert>{_base64_der(certificate)}</signedCert><ca>{_base64_der(ca)}</ca></enrollment>"
    ).encode()


def legacy_keystore(certificate: x509.Certificate, ca: x509.Certificate) -> bytes:
    """The older ``signClient`` answer: PKCS#12 with certificate entries ``signedCert`` and ``ca0``.

    ATAK-CIV (CertificateSigningOperation.java) opens it with :data:`LEGACY_KEYSTORE_PASSWORD`
    and sorts the certificate entries by alias. Written as TAK Server (Java) writes it: entries
    marked as trusted certificates, SHA-1/3DES encryption, which every Android keystore reads.
    """
    encryption = (
        PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(LEGACY_KDF_ROUNDS)
        .key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC)
        .hmac_hash(hashes.SHA1())  # noqa: S303 - format compatibility; the content is public
        .build(LEGACY_KEYSTORE_PASSWORD)
    )
    entries = [pkcs12.PKCS12Certificate(certificate, b"signedCert"), pkcs12.PKCS12Certificate(ca, b"ca0")]
    return pkcs12.serialize_java_truststore(entries, encryption)

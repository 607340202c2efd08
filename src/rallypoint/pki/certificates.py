"""Building certificates and checking CSRs: pure functions, no files, time passed in.

Choices, and why:

* The CA and the server use **EC P-256** keys. A TLS handshake costs the server one signature
  with its own key; ECDSA P-256 signs about 30x faster than RSA 3072 at equal strength
  (~128-bit), which is what the TLS handshake rate is measured on. Every TAK client's TLS
  stack (Android/Conscrypt, OpenSSL in pytak, Windows Schannel, iOS) verifies ECDSA chains.
* Client keys made here are **RSA 2048**: ATAK imports client identities from PKCS#12 into an
  Android keystore and is only known to work with RSA keys there (TAK Server issues RSA too).
  Enrollment CSRs may carry RSA (>= 2048 bits) or EC (P-256/384/521) keys.
* Serial numbers come from :func:`x509.random_serial_number` (159 random bits from the OS
  CSPRNG), not the 31-bit non-cryptographic serials of the reference server.
* ``not_valid_before`` is set a few minutes in the past so a client whose clock runs slightly
  behind still accepts a certificate issued a moment ago.
"""

import ipaddress
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from rallypoint.errors import EnrollmentRefused, PkiError

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

NAME_ENTRIES: tuple[tuple[str, str], ...] = (("O", "Rallypoint"), ("OU", "Rallypoint"))
"""The subject entries (besides CN) every client certificate carries; enrollment CSRs must match."""
CA_VALIDITY = timedelta(days=3650)
SERVER_VALIDITY = timedelta(days=397)
"""Apple platforms (iTAK) refuse TLS server certificates valid for more than 825 days; stay well below."""
CLOCK_SKEW = timedelta(minutes=5)
CLIENT_RSA_BITS = 2048
MIN_RSA_BITS = 2048
ACCEPTED_CURVES = (ec.SECP256R1, ec.SECP384R1, ec.SECP521R1)

ATTRIBUTE_OIDS = {
    "CN": NameOID.COMMON_NAME,
    "O": NameOID.ORGANIZATION_NAME,
    "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "C": NameOID.COUNTRY_NAME,
    "ST": NameOID.STATE_OR_PROVINCE_NAME,
    "L": NameOID.LOCALITY_NAME,
    "DC": NameOID.DOMAIN_COMPONENT,
}
"""Short attribute names as they appear in TAK's ``nameEntry name="…"``."""


def new_ec_key() -> ec.EllipticCurvePrivateKey:
    """A P-256 key for the CA or the server."""
    return ec.generate_private_key(ec.SECP256R1())


def new_client_key() -> rsa.RSAPrivateKey:
    """An RSA key for a client identity that will travel in a PKCS#12 file to ATAK."""
    return rsa.generate_private_key(public_exponent=65537, key_size=CLIENT_RSA_BITS)


def subject(common_name: str, entries: Iterable[tuple[str, str]]) -> x509.Name:
    """``CN=<name>`` plus the entries, most general first as X.500 orders them."""
    attributes = [x509.NameAttribute(ATTRIBUTE_OIDS[key], value) for key, value in entries]
    return x509.Name([*attributes, x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def build_ca(common_name: str, key: PrivateKey, now: datetime) -> x509.Certificate:
    """A self-signed root that may sign end-entity certificates and CRLs, nothing else."""
    name = subject(common_name, NAME_ENTRIES)
    public_key = key.public_key()
    return (
        _validity(x509.CertificateBuilder(), now, CA_VALIDITY)
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .sign(key, hashes.SHA256())
    )


def build_server(
    ca: x509.Certificate, ca_key: PrivateKey, key: PrivateKey, hostnames: Sequence[str], now: datetime
) -> x509.Certificate:
    """The TLS server certificate: SANs for every host name (IP literals as IP addresses)."""
    if not hostnames:
        raise PkiError("no host names for the server certificate (setting 'hostnames')")
    return (
        _end_entity(ca, key.public_key(), subject(hostnames[0], NAME_ENTRIES), now, SERVER_VALIDITY)
        .add_extension(_key_usage(key_encipherment=isinstance(key, rsa.RSAPrivateKey)), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(subject_alternative_names(hostnames)), critical=False)
        .sign(ca_key, hashes.SHA256())
    )


def build_client(
    ca: x509.Certificate,
    ca_key: PrivateKey,
    public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey,
    common_name: str,
    *,
    now: datetime,
    validity: timedelta,
) -> x509.Certificate:
    """A client-authentication certificate for ``CN=<common_name>`` plus :data:`NAME_ENTRIES`."""
    name = subject(common_name, NAME_ENTRIES)
    return (
        _end_entity(ca, public_key, name, now, validity)
        .add_extension(_key_usage(key_encipherment=isinstance(public_key, rsa.RSAPublicKey)), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )


def build_crl(
    ca: x509.Certificate,
    ca_key: PrivateKey,
    revoked: Iterable[tuple[int, datetime]],
    now: datetime,
    lifetime: timedelta,
) -> x509.CertificateRevocationList:
    """A CRL listing ``(serial, revocation time)`` pairs; its number grows with ``now``."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.subject)
        .last_update(now)
        .next_update(now + lifetime)
        .add_extension(x509.CRLNumber(int(now.timestamp() * 1000)), critical=False)
        .add_extension(_authority_key_id(ca), critical=False)
    )
    for serial, when in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build()
        )
    return builder.sign(ca_key, hashes.SHA256())


def subject_alternative_names(hostnames: Iterable[str]) -> list[x509.GeneralName]:
    """DNS names, and IP addresses for names that parse as one (clients match those by IP)."""
    names: list[x509.GeneralName] = []
    for host in hostnames:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def check_csr(
    csr: x509.CertificateSigningRequest, common_name: str, entries: Sequence[tuple[str, str]]
) -> rsa.RSAPublicKey | ec.EllipticCurvePublicKey:
    """The CSR's public key, if the CSR is one the server may sign for ``common_name``.

    TAK Server's rule (reference §4.6 step 2): as many subject RDNs as entries + 1, the CN equal
    to the authenticated user name and each entry present with its value, all case-insensitive.
    We also require single-valued RDNs, a valid self-signature (proof the requester holds the
    key) and a key we consider strong enough.
    """
    if not csr.is_signature_valid:
        raise EnrollmentRefused("the CSR signature does not verify")
    attributes: list[x509.NameAttribute[str | bytes]] = []
    for rdn in csr.subject.rdns:
        if len(rdn) != 1:
            raise EnrollmentRefused("the CSR subject has a multi-valued RDN")
        attributes.extend(rdn)
    if len(attributes) != len(entries) + 1:
        raise EnrollmentRefused(f"the CSR subject must have exactly {len(entries) + 1} entries")
    pool = [(attribute.oid, _text(attribute.value).casefold()) for attribute in attributes]
    for label, value in (("CN", common_name), *entries):
        try:
            pool.remove((ATTRIBUTE_OIDS[label], value.casefold()))
        except ValueError:
            raise EnrollmentRefused(f"the CSR subject lacks {label}={value}") from None
    return _accepted_key(csr.public_key())


def _accepted_key(key: object) -> rsa.RSAPublicKey | ec.EllipticCurvePublicKey:
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise EnrollmentRefused(f"RSA keys must have at least {MIN_RSA_BITS} bits")
        return key
    if isinstance(key, ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, ACCEPTED_CURVES):
            raise EnrollmentRefused(f"elliptic curve {key.curve.name} is not accepted")
        return key
    raise EnrollmentRefused("only RSA and EC keys are accepted")


def _text(value: str | bytes) -> str:
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def _validity(
    builder: x509.CertificateBuilder, now: datetime, validity: timedelta
) -> x509.CertificateBuilder:
    return (
        builder.serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + validity)
    )


def _end_entity(
    ca: x509.Certificate,
    public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey,
    name: x509.Name,
    now: datetime,
    validity: timedelta,
) -> x509.CertificateBuilder:
    return (
        _validity(x509.CertificateBuilder(), now, validity)
        .subject_name(name)
        .issuer_name(ca.subject)
        .public_key(public_key)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(_authority_key_id(ca), critical=False)
    )


def _authority_key_id(ca: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    identifier = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(identifier)


def _key_usage(*, cert_sign: bool = False, key_encipherment: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=key_encipherment,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )

"""Enrollment CSRs: TAK Server's subject rule (reference §4.6 step 2), signatures and key strength."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from rallypoint.errors import EnrollmentRefused
from rallypoint.pki.authority import CertificateAuthority

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
CN, ORG, UNIT = NameOID.COMMON_NAME, NameOID.ORGANIZATION_NAME, NameOID.ORGANIZATIONAL_UNIT_NAME


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> CertificateAuthority:
    return CertificateAuthority.load_or_create(tmp_path_factory.mktemp("ca"), ["localhost"], NOW)


def csr(
    attributes: list[tuple[x509.ObjectIdentifier, str]],
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey = EC_KEY,
    *,
    ca_extension: bool = False,
) -> x509.CertificateSigningRequest:
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(oid, value) for oid, value in attributes])
    )
    if ca_extension:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    return builder.sign(key, hashes.SHA256())


def test_name_entries_are_what_the_config_endpoint_announces(authority: CertificateAuthority) -> None:
    assert authority.name_entries == (("O", "Rallypoint"), ("OU", "Rallypoint"))


@pytest.mark.parametrize(
    "attributes",
    [
        [(CN, "alice"), (ORG, "Rallypoint"), (UNIT, "Rallypoint")],
        [(UNIT, "rallypoint"), (CN, "ALICE"), (ORG, "RALLYPOINT")],
    ],
    ids=["as-announced", "any-order-and-case"],
)
def test_matching_csr_is_signed_for_the_authenticated_user(
    authority: CertificateAuthority, attributes: list[tuple[x509.ObjectIdentifier, str]]
) -> None:
    request = csr(attributes, ca_extension=True)
    certificate = authority.sign_csr(request, "Alice", NOW, 90)
    certificate.verify_directly_issued_by(authority.certificate)
    assert certificate.public_key() == request.public_key()
    assert certificate.subject.get_attributes_for_oid(CN)[0].value == "Alice"
    assert not certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    eku = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]


def test_rsa_csr_is_accepted(authority: CertificateAuthority) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    certificate = authority.sign_csr(
        csr([(CN, "bob"), (ORG, "Rallypoint"), (UNIT, "Rallypoint")], key), "bob", NOW, 1
    )
    assert isinstance(certificate.public_key(), rsa.RSAPublicKey)


@pytest.mark.parametrize(
    ("attributes", "reason"),
    [
        ([(CN, "mallory"), (ORG, "Rallypoint"), (UNIT, "Rallypoint")], "CN=alice"),
        ([(CN, "alice"), (ORG, "Rallypoint"), (UNIT, "Rallypoint"), (UNIT, "Extra")], "exactly 3"),
        ([(CN, "alice"), (ORG, "Rallypoint")], "exactly 3"),
        ([(CN, "alice"), (ORG, "Rallypoint"), (ORG, "Rallypoint")], "OU=Rallypoint"),
        ([(CN, "alice"), (ORG, "Other"), (UNIT, "Rallypoint")], "O=Rallypoint"),
        ([(CN, "alice"), (CN, "alice"), (UNIT, "Rallypoint")], "O=Rallypoint"),
    ],
    ids=["wrong-cn", "extra-rdn", "missing-ou", "o-twice", "wrong-o", "cn-twice"],
)
def test_subject_mismatch_is_refused(
    authority: CertificateAuthority, attributes: list[tuple[x509.ObjectIdentifier, str]], reason: str
) -> None:
    with pytest.raises(EnrollmentRefused, match=reason):
        authority.sign_csr(csr(attributes), "alice", NOW, 1)


def test_multi_valued_rdn_is_refused(authority: CertificateAuthority) -> None:
    name = x509.Name(
        [
            x509.RelativeDistinguishedName(
                [x509.NameAttribute(CN, "alice"), x509.NameAttribute(ORG, "Rallypoint")]
            ),
            x509.RelativeDistinguishedName([x509.NameAttribute(UNIT, "Rallypoint")]),
        ]
    )
    request = x509.CertificateSigningRequestBuilder().subject_name(name).sign(EC_KEY, hashes.SHA256())
    with pytest.raises(EnrollmentRefused, match="multi-valued"):
        authority.sign_csr(request, "alice", NOW, 1)


def test_bad_signature_is_refused(authority: CertificateAuthority) -> None:
    good = csr([(CN, "alice"), (ORG, "Rallypoint"), (UNIT, "Rallypoint")])
    der = bytearray(good.public_bytes(serialization.Encoding.DER))
    der[-5] ^= 0x01  # inside the signature value
    tampered = x509.load_der_x509_csr(bytes(der))
    with pytest.raises(EnrollmentRefused, match="signature"):
        authority.sign_csr(tampered, "alice", NOW, 1)


def test_csr_signed_by_another_key_is_refused(authority: CertificateAuthority) -> None:
    """A CSR whose body names one key but is signed by another proves nothing about the key."""
    entries = [(CN, "alice"), (ORG, "Rallypoint"), (UNIT, "Rallypoint")]
    mine = csr(entries).public_bytes(serialization.Encoding.DER)
    theirs = csr(entries, ec.generate_private_key(ec.SECP256R1())).public_bytes(serialization.Encoding.DER)
    info_mine, info_theirs = (
        x509.load_der_x509_csr(mine).tbs_certrequest_bytes,
        x509.load_der_x509_csr(theirs).tbs_certrequest_bytes,
    )
    spliced = x509.load_der_x509_csr(theirs.replace(info_theirs, info_mine))
    with pytest.raises(EnrollmentRefused, match="signature"):
        authority.sign_csr(spliced, "alice", NOW, 1)


@pytest.mark.parametrize(
    "key",
    [
        rsa.generate_private_key(public_exponent=65537, key_size=1024),
        ec.generate_private_key(ec.SECP256K1()),
    ],
    ids=["rsa-1024", "secp256k1"],
)
def test_weak_or_unusual_keys_are_refused(
    authority: CertificateAuthority, key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
) -> None:
    with pytest.raises(EnrollmentRefused, match=r"bits|curve"):
        authority.sign_csr(
            csr([(CN, "alice"), (ORG, "Rallypoint"), (UNIT, "Rallypoint")], key), "alice", NOW, 1
        )


def test_ed25519_keys_are_refused(authority: CertificateAuthority, tmp_path: Path) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(CN, "alice"),
                    x509.NameAttribute(ORG, "Rallypoint"),
                    x509.NameAttribute(UNIT, "Rallypoint"),
                ]
            )
        )
        .sign(key, None)
    )
    with pytest.raises(EnrollmentRefused, match="RSA and EC"):
        authority.sign_csr(request, "alice", NOW, 1)

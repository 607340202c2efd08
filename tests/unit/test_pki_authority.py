"""The certificate authority: files and modes, certificate profiles, CRL, and a real TLS handshake."""

import ipaddress
import ssl
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from rallypoint.errors import PkiError
from rallypoint.pki.authority import CertificateAuthority, private_pem
from rallypoint.pki.paths import pki_paths

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HOSTS = ["localhost", "127.0.0.1", "tak.example.org", "::1"]


@pytest.fixture
def authority(tmp_path: Path) -> CertificateAuthority:
    return CertificateAuthority.load_or_create(tmp_path, HOSTS, NOW)


def test_first_use_creates_every_file_with_private_keys_0600(authority: CertificateAuthority) -> None:
    paths = authority.paths
    for path in (paths.ca_cert, paths.ca_key, paths.server_cert, paths.server_key, paths.crl):
        assert path.is_file(), path
    for key in (paths.ca_key, paths.server_key):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(paths.directory.stat().st_mode) == 0o700
    assert not list(paths.directory.glob("*.tmp")), "no temporary files left behind"


def test_ca_profile(authority: CertificateAuthority) -> None:
    ca = authority.certificate
    assert ca.issuer == ca.subject
    ca.verify_directly_issued_by(ca)
    constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical
    assert constraints.value.ca
    assert constraints.value.path_length == 0
    usage = ca.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign
    assert usage.crl_sign
    assert not usage.digital_signature
    assert ca.not_valid_after_utc - NOW >= timedelta(days=3650)
    assert isinstance(ca.public_key(), ec.EllipticCurvePublicKey)


def test_server_certificate_names_every_host(authority: CertificateAuthority) -> None:
    chain = x509.load_pem_x509_certificates(authority.paths.server_cert.read_bytes())
    server = chain[0]
    assert chain[1] == authority.certificate, "the chain file carries the CA too"
    server.verify_directly_issued_by(authority.certificate)
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["localhost", "tak.example.org"]
    assert names.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    ]
    eku = server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert server.not_valid_after_utc - server.not_valid_before_utc <= timedelta(days=825)


def test_load_or_create_is_idempotent(tmp_path: Path, authority: CertificateAuthority) -> None:
    before = {p: p.read_bytes() for p in authority.paths[1:]}
    again = CertificateAuthority.load_or_create(tmp_path, HOSTS, NOW + timedelta(hours=1))
    assert again.certificate == authority.certificate
    assert {p: p.read_bytes() for p in authority.paths[1:]} == before


def test_new_host_names_or_near_expiry_reissue_only_the_server_certificate(
    tmp_path: Path, authority: CertificateAuthority
) -> None:
    server_before = authority.paths.server_cert.read_bytes()
    CertificateAuthority.load_or_create(tmp_path, ["rally.example.org"], NOW)
    server = x509.load_pem_x509_certificates(authority.paths.server_cert.read_bytes())[0]
    names = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["rally.example.org"]
    assert authority.paths.server_cert.read_bytes() != server_before
    renewed_at = NOW + timedelta(days=380)
    again = CertificateAuthority.load_or_create(tmp_path, ["rally.example.org"], renewed_at)
    server = x509.load_pem_x509_certificates(authority.paths.server_cert.read_bytes())[0]
    assert server.not_valid_after_utc > renewed_at + timedelta(days=300)
    assert again.certificate == authority.certificate


def test_initialise_refuses_to_replace_unless_asked(tmp_path: Path, authority: CertificateAuthority) -> None:
    with pytest.raises(PkiError, match="already exists"):
        CertificateAuthority.initialise(tmp_path, HOSTS, NOW)
    replaced = CertificateAuthority.initialise(tmp_path, HOSTS, NOW, replace=True)
    assert replaced.certificate != authority.certificate
    assert CertificateAuthority.load_or_create(tmp_path, HOSTS, NOW).certificate == replaced.certificate


def test_broken_files_are_pki_errors(tmp_path: Path, authority: CertificateAuthority) -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    authority.paths.ca_key.write_bytes(private_pem(other))
    with pytest.raises(PkiError, match="does not belong"):
        CertificateAuthority.load_or_create(tmp_path, HOSTS, NOW)
    authority.paths.ca_key.unlink()
    with pytest.raises(PkiError, match="cannot load"):
        CertificateAuthority.load_or_create(tmp_path, HOSTS, NOW)


def test_no_host_names_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PkiError, match="host names"):
        CertificateAuthority.load_or_create(tmp_path, [], NOW)
    assert not pki_paths(tmp_path).ca_key.exists()


def test_issued_client_certificate(authority: CertificateAuthority) -> None:
    certificate, key = authority.issue("alice", NOW, 30)
    assert isinstance(key, rsa.RSAPrivateKey)
    assert key.key_size == 2048
    certificate.verify_directly_issued_by(authority.certificate)
    assert certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "alice"
    assert certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Rallypoint"
    eku = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert not certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert certificate.not_valid_after_utc == NOW + timedelta(days=30)
    with pytest.raises(PkiError, match="at least one day"):
        authority.issue("alice", NOW, 0)


def test_serials_are_random_with_at_least_64_bits(authority: CertificateAuthority) -> None:
    serials = [authority.issue("alice", NOW, 1)[0].serial_number for _ in range(12)]
    assert len(set(serials)) == len(serials)
    assert all(serial.bit_length() > 64 for serial in serials)
    assert sorted(serials) != serials or sorted(serials, reverse=True) != serials


def test_crl_lists_revoked_serials_and_verifies(authority: CertificateAuthority) -> None:
    empty = x509.load_pem_x509_crl(authority.paths.crl.read_bytes())
    assert len(empty) == 0
    assert empty.is_signature_valid(authority.certificate.public_key())
    revoked = [
        (authority.issue("alice", NOW, 1)[0].serial_number, NOW),
        (2**100 + 7, NOW - timedelta(hours=1)),
    ]
    authority.write_crl(revoked, NOW)
    crl = x509.load_pem_x509_crl(authority.paths.crl.read_bytes())
    assert crl.is_signature_valid(authority.certificate.public_key())
    assert crl.issuer == authority.certificate.subject
    assert sorted((e.serial_number, e.revocation_date_utc) for e in crl) == sorted(revoked)
    assert crl.next_update_utc is not None
    assert crl.next_update_utc > NOW


def test_an_expiring_crl_is_re_signed_with_its_entries(
    tmp_path: Path, authority: CertificateAuthority
) -> None:
    authority.write_crl([(12345, NOW)], NOW)
    later = NOW + timedelta(days=6)
    CertificateAuthority.load_or_create(tmp_path, HOSTS, later)
    crl = x509.load_pem_x509_crl(authority.paths.crl.read_bytes())
    assert [e.serial_number for e in crl] == [12345]
    assert crl.next_update_utc is not None
    assert crl.next_update_utc > later + timedelta(days=2)


def test_tls_handshake_with_issued_and_revoked_certificates(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    authority = CertificateAuthority.load_or_create(tmp_path / "data", ["localhost", "127.0.0.1"], now)
    certificate, key = authority.issue("alice", now, 1)
    client_pem = tmp_path / "alice.pem"
    client_pem.write_bytes(certificate.public_bytes(serialization.Encoding.PEM) + private_pem(key))

    def server_context() -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*authority.server_ssl_files())
        context.load_verify_locations(authority.paths.ca_cert)
        context.load_verify_locations(authority.paths.crl)
        context.verify_mode = ssl.CERT_REQUIRED
        context.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
        return context

    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.load_verify_locations(authority.paths.ca_cert)
    client.load_cert_chain(client_pem)
    assert memory_handshake(server_context(), client, "localhost") == "alice"
    assert memory_handshake(server_context(), client, "127.0.0.1") == "alice"
    authority.write_crl([(certificate.serial_number, now)], now)
    with pytest.raises(ssl.SSLError, match="revoked"):
        memory_handshake(server_context(), client, "localhost")


def memory_handshake(server: ssl.SSLContext, client: ssl.SSLContext, hostname: str) -> str:
    """A TLS handshake through memory buffers; the client's CN as the server saw it."""
    client_out, server_out = ssl.MemoryBIO(), ssl.MemoryBIO()
    server_end = server.wrap_bio(client_out, server_out, server_side=True)
    client_end = client.wrap_bio(server_out, client_out, server_hostname=hostname)
    pending = {"client": client_end, "server": server_end}
    for _ in range(10):
        for name, end in list(pending.items()):
            try:
                end.do_handshake()
                del pending[name]
            except ssl.SSLWantReadError:
                pass
        if not pending:
            break
    assert not pending, f"handshake did not finish: {sorted(pending)}"
    peer = server_end.getpeercert()
    assert peer is not None
    return next(value for rdn in peer["subject"] for key, value in rdn if key == "commonName")

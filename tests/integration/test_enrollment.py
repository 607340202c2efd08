"""Certificate enrollment over HTTPS (issue 3 item 5, reference §4.6), spoken to with httpx.

The service runs on 127.0.0.1 port 0 with a CA, identity store and audit log in a temporary
data directory; the client trusts only that CA, so every test also checks the server's TLS
certificate. CSRs are built with ``cryptography`` the way TAK clients build them.
"""

import base64
import json
import ssl
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from rallypoint.config import Settings
from rallypoint.pki.audit import AuditLog, verify_audit_log
from rallypoint.pki.authority import CertificateAuthority
from rallypoint.pki.identities import IdentityStore
from rallypoint.pki.paths import audit_path, identity_path
from rallypoint.server.enrollment import EnrollmentService, start_enrollment
from tests.waiting import EVENT_TIMEOUT_S

PASSWORD = "correct horse battery"
MAX_FAILURES = 3
CONFIG = "/Marti/api/tls/config"
SIGN = "/Marti/api/tls/signClient/v2"
LEGACY_SIGN = "/Marti/api/tls/signClient"
PROFILE = "/Marti/api/tls/profile/enrollment"
OIDS = {"O": NameOID.ORGANIZATION_NAME, "OU": NameOID.ORGANIZATIONAL_UNIT_NAME, "C": NameOID.COUNTRY_NAME}


@dataclass
class EnrollmentFixture:
    """A running enrollment service and an HTTPS client that trusts its CA."""

    service: EnrollmentService
    client: httpx.AsyncClient
    authority: CertificateAuthority
    identities: IdentityStore
    data_dir: Path

    def audit(self) -> list[dict[str, Any]]:
        path = audit_path(self.data_dir)
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
async def enrollment(tmp_path: Path) -> AsyncIterator[EnrollmentFixture]:
    data_dir = tmp_path / "data"
    authority = CertificateAuthority.load_or_create(data_dir, ["localhost", "127.0.0.1"], datetime.now(UTC))
    identities = IdentityStore(identity_path(data_dir))
    identities.add_user("alice", PASSWORD, ["blue"])
    identities.add_user("dave", PASSWORD, ["blue"])
    identities.set_disabled("dave", True)
    settings = Settings(data_dir=data_dir, enrollment_max_failures=MAX_FAILURES)
    service = await start_enrollment(
        authority, identities, AuditLog(audit_path(data_dir)), settings, host="127.0.0.1", port=0
    )
    trust = ssl.create_default_context(cafile=str(authority.paths.ca_cert))
    client = httpx.AsyncClient(
        base_url=f"https://127.0.0.1:{service.port}", verify=trust, timeout=EVENT_TIMEOUT_S
    )
    try:
        yield EnrollmentFixture(service, client, authority, identities, data_dir)
    finally:
        await client.aclose()
        await service.close()
        identities.close()


def make_csr(
    common_name: str, entries: list[tuple[str, str]], key: Any = None
) -> tuple[x509.CertificateSigningRequest, Any]:
    key = key if key is not None else ec.generate_private_key(ec.SECP256R1())
    names = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    names += [x509.NameAttribute(OIDS[label], value) for label, value in entries]
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(names)).sign(key, algorithm)
    return csr, key


def pem(csr: x509.CertificateSigningRequest) -> bytes:
    return csr.public_bytes(serialization.Encoding.PEM)


def der_certificate(text: str) -> x509.Certificate:
    return x509.load_der_x509_certificate(base64.b64decode(text))


def assert_issued_to(
    enrollment: EnrollmentFixture, certificate: x509.Certificate, csr: Any, client_uid: str
) -> None:
    """Chains to our CA, names the user, carries the CSR's key, and is on record."""
    certificate.verify_directly_issued_by(enrollment.authority.certificate)
    assert certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "alice"
    assert certificate.public_key() == csr.public_key()
    usage = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.CLIENT_AUTH in usage
    record = enrollment.identities.certificate(certificate.serial_number)
    assert record is not None
    assert (record.user, record.client_uid) == ("alice", client_uid)


async def sign(enrollment: EnrollmentFixture, body: bytes, **kwargs: Any) -> httpx.Response:
    kwargs.setdefault("auth", ("alice", PASSWORD))
    return await enrollment.client.post(
        SIGN, params={"clientUid": "ANDROID-1", "version": "5.4"}, content=body, **kwargs
    )


# Configuration


async def test_config_is_tak_servers_xml_with_our_name_entries(enrollment: EnrollmentFixture) -> None:
    response = await enrollment.client.get(CONFIG, auth=("alice", PASSWORD))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/xml"
    root = ET.fromstring(response.content)
    assert root.tag == "{com.bbn.marti.config}certificateConfig"
    found = [(e.get("name"), e.get("value")) for e in root.iter() if e.tag.endswith("nameEntry")]
    assert tuple(found) == enrollment.authority.name_entries
    assert response.text.startswith(
        '<ns2:certificateConfig xmlns="http://bbn.com/marti/xml/config" xmlns:ns2="com.bbn.marti.config">'
        '<nameEntries><nameEntry name="O" value="'
    )


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "Basic " + base64.b64encode(b"alice:wrong").decode(),
        "Basic !!!not-base64",
        "Basic YWxpY2U=",
        "Bearer x",
    ],
    ids=["none", "wrong-password", "bad-base64", "no-colon", "other-scheme"],
)
async def test_config_without_valid_credentials_is_401_with_a_challenge(
    enrollment: EnrollmentFixture, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    response = await enrollment.client.get(CONFIG, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Basic realm="Rallypoint"'


@pytest.mark.parametrize("charset", ["utf-8", "latin-1"])
async def test_non_ascii_passwords_in_either_basic_auth_charset(
    enrollment: EnrollmentFixture, charset: str
) -> None:
    enrollment.identities.add_user("erik", "pässwörd", ["blue"])
    token = base64.b64encode("erik:pässwörd".encode(charset)).decode()
    response = await enrollment.client.get(CONFIG, headers={"Authorization": f"Basic {token}"})
    assert response.status_code == 200


async def test_a_disabled_user_cannot_log_in_even_with_the_right_password(
    enrollment: EnrollmentFixture,
) -> None:
    assert (await enrollment.client.get(CONFIG, auth=("dave", PASSWORD))).status_code == 401
    csr, _ = make_csr("dave", list(enrollment.authority.name_entries))
    assert (await sign(enrollment, pem(csr), auth=("dave", PASSWORD))).status_code == 401
    assert enrollment.identities.certificates("dave") == []


# Signing


@pytest.mark.parametrize(
    "accept", [None, "*/*", "application/json", "text/plain", "application/xml;q=0.5, */*"]
)
async def test_signs_a_matching_csr_as_json(enrollment: EnrollmentFixture, accept: str | None) -> None:
    csr, _ = make_csr("alice", list(enrollment.authority.name_entries))
    headers = {"Accept": accept} if accept is not None else {}
    request = enrollment.client.build_request(
        "POST", SIGN, params={"clientUid": "ANDROID-1"}, content=pem(csr), headers=headers
    )
    if accept is None:
        del request.headers["accept"]
    request.headers["authorization"] = "Basic " + base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
    response = await enrollment.client.send(request)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"signedCert", "ca0"}
    assert "-----" not in body["signedCert"]
    assert der_certificate(body["ca0"]) == enrollment.authority.certificate
    assert_issued_to(enrollment, der_certificate(body["signedCert"]), csr, "ANDROID-1")


async def test_signs_as_xml_when_asked(enrollment: EnrollmentFixture) -> None:
    csr, _ = make_csr("alice", list(enrollment.authority.name_entries))
    response = await sign(enrollment, pem(csr), headers={"Accept": "application/xml"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/xml"
    assert response.text.startswith('<?xml version="1.0" encoding="UTF-8"?><enrollment><signedCert>')
    root = ET.fromstring(response.content)
    assert [child.tag for child in root] == ["signedCert", "ca"]
    assert der_certificate(root.findtext("ca") or "") == enrollment.authority.certificate
    assert_issued_to(enrollment, der_certificate(root.findtext("signedCert") or ""), csr, "ANDROID-1")


def _armor_stripped(csr: x509.CertificateSigningRequest) -> bytes:
    return b"\n".join(line for line in pem(csr).splitlines() if not line.startswith(b"-----"))


@pytest.mark.parametrize(
    "encode",
    [
        pem,
        _armor_stripped,
        lambda csr: base64.b64encode(csr.public_bytes(serialization.Encoding.DER)),
        lambda csr: pem(csr).replace(b"CERTIFICATE REQUEST", b"NEW CERTIFICATE REQUEST"),
    ],
    ids=["pem", "base64-lines", "base64-one-line", "new-csr-armor"],
)
async def test_accepts_the_csr_encodings_clients_send(enrollment: EnrollmentFixture, encode: Any) -> None:
    csr, _ = make_csr("alice", list(enrollment.authority.name_entries))
    response = await sign(enrollment, encode(csr))
    assert response.status_code == 200
    assert_issued_to(enrollment, der_certificate(response.json()["signedCert"]), csr, "ANDROID-1")


async def test_signs_an_rsa_csr_with_the_user_name_in_other_letter_case(
    enrollment: EnrollmentFixture,
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    csr, _ = make_csr("ALICE", [(k, v.upper()) for k, v in enrollment.authority.name_entries], key)
    response = await sign(enrollment, pem(csr), auth=("Alice", PASSWORD))
    assert response.status_code == 200
    assert_issued_to(enrollment, der_certificate(response.json()["signedCert"]), csr, "ANDROID-1")


def _refusals(entries: list[tuple[str, str]]) -> dict[str, bytes]:
    return {
        "wrong-cn": pem(make_csr("bob", entries)[0]),
        "missing-entry": pem(make_csr("alice", entries[:-1])[0]),
        "extra-entry": pem(make_csr("alice", [*entries, ("C", "US")])[0]),
        "wrong-value": pem(make_csr("alice", [(k, v + "x") for k, v in entries])[0]),
        "ed25519-key": pem(make_csr("alice", entries, ed25519.Ed25519PrivateKey.generate())[0]),
        "garbage": b"this is not a certificate request",
        "bad-pem": b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
        "empty": b"",
    }


@pytest.mark.parametrize(
    "case",
    ["wrong-cn", "missing-entry", "extra-entry", "wrong-value", "ed25519-key", "garbage", "bad-pem", "empty"],
)
async def test_refuses_csrs_that_do_not_match_with_400(enrollment: EnrollmentFixture, case: str) -> None:
    body = _refusals(list(enrollment.authority.name_entries))[case]
    response = await sign(enrollment, body)
    assert response.status_code == 400
    assert response.text.startswith("CSR refused: ")
    assert enrollment.identities.certificates() == []
    [entry] = [e for e in enrollment.audit() if e["kind"] == "enrollment_refused"]
    assert (entry["user"], entry["address"], entry["client_uid"]) == ("alice", "127.0.0.1", "ANDROID-1")


async def test_refuses_an_unusable_accept_with_406_before_signing(enrollment: EnrollmentFixture) -> None:
    csr, _ = make_csr("alice", list(enrollment.authority.name_entries))
    response = await sign(enrollment, pem(csr), headers={"Accept": "image/png, application/json;q=0"})
    assert response.status_code == 406
    assert enrollment.identities.certificates() == []


async def test_refuses_an_oversized_body_with_413(enrollment: EnrollmentFixture) -> None:
    response = await sign(enrollment, b"A" * (16 * 1024 + 1))
    assert response.status_code == 413

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the cap applies while reading
        for _ in range(20):
            yield b"A" * 1024

    response = await enrollment.client.post(
        SIGN, params={"clientUid": "ANDROID-1"}, content=chunks(), auth=("alice", PASSWORD)
    )
    assert response.status_code == 413
    assert enrollment.identities.certificates() == []


async def test_signing_needs_credentials(enrollment: EnrollmentFixture) -> None:
    csr, _ = make_csr("alice", list(enrollment.authority.name_entries))
    assert (await sign(enrollment, pem(csr), auth=None)).status_code == 401
    assert (await sign(enrollment, pem(csr), auth=("alice", "wrong"))).status_code == 401
    assert enrollment.identities.certificates() == []


async def test_legacy_sign_client_returns_the_atak_keystore(enrollment: EnrollmentFixture) -> None:
    csr, _ = make_csr("alice", list(enrollment.authority.name_entries))
    response = await enrollment.client.post(
        LEGACY_SIGN,
        params={"clientUid": "ANDROID-2", "version": "4.1"},
        content=_armor_stripped(csr),
        auth=("alice", PASSWORD),
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-pkcs12"
    store = pkcs12.load_pkcs12(response.content, b"atakatak")
    assert store.key is None
    assert store.cert is None
    entries = {entry.friendly_name: entry.certificate for entry in store.additional_certs}
    assert set(entries) == {b"signedCert", b"ca0"}
    assert entries[b"ca0"] == enrollment.authority.certificate
    assert_issued_to(enrollment, entries[b"signedCert"], csr, "ANDROID-2")


async def test_enrollment_profile_is_empty_for_authenticated_users(enrollment: EnrollmentFixture) -> None:
    response = await enrollment.client.get(
        PROFILE, params={"clientUid": "ANDROID-1"}, auth=("alice", PASSWORD)
    )
    assert response.status_code == 204
    assert (await enrollment.client.get(PROFILE, params={"clientUid": "ANDROID-1"})).status_code == 401


async def test_other_paths_and_methods_are_clean_http_errors(enrollment: EnrollmentFixture) -> None:
    assert (await enrollment.client.get(SIGN, auth=("alice", PASSWORD))).status_code == 405
    assert (await enrollment.client.get("/Marti/api/version", auth=("alice", PASSWORD))).status_code == 404


async def test_refuses_an_overlong_client_uid(enrollment: EnrollmentFixture) -> None:
    csr, _ = make_csr("alice", list(enrollment.authority.name_entries))
    response = await enrollment.client.post(
        SIGN, params={"clientUid": "x" * 257}, content=pem(csr), auth=("alice", PASSWORD)
    )
    assert response.status_code == 400
    assert enrollment.identities.certificates() == []


# Brute force and audit


async def test_repeated_wrong_passwords_are_throttled_even_for_the_right_one(
    enrollment: EnrollmentFixture,
) -> None:
    for _ in range(MAX_FAILURES):
        assert (await enrollment.client.get(CONFIG, auth=("alice", "guess"))).status_code == 401
    throttled = await enrollment.client.get(CONFIG, auth=("alice", "guess"))
    assert throttled.status_code == 429
    assert 1 <= int(throttled.headers["retry-after"]) <= 60
    right = await enrollment.client.get(CONFIG, auth=("alice", PASSWORD))
    assert right.status_code == 429  # no signal about the password while throttled
    csr, _ = make_csr("alice", list(enrollment.authority.name_entries))
    assert (await sign(enrollment, pem(csr))).status_code == 429
    assert enrollment.identities.certificates() == []

    failures = [e for e in enrollment.audit() if e["kind"] == "login_failed"]
    assert len(failures) == MAX_FAILURES + 1  # each failure, then the throttling once, not per request
    assert all((e["user"], e["address"]) == ("alice", "127.0.0.1") for e in failures)
    assert failures[-1]["reason"].startswith("throttled")


async def test_one_address_is_throttled_across_user_names(enrollment: EnrollmentFixture) -> None:
    for index in range(MAX_FAILURES):
        assert (await enrollment.client.get(CONFIG, auth=(f"user{index}", "guess"))).status_code == 401
    assert (await enrollment.client.get(CONFIG, auth=("somebody-else", "guess"))).status_code == 429


async def test_a_success_does_not_clear_the_address_failures_against_others(
    enrollment: EnrollmentFixture,
) -> None:
    for index in range(MAX_FAILURES - 1):
        assert (await enrollment.client.get(CONFIG, auth=(f"user{index}", "guess"))).status_code == 401
    assert (await enrollment.client.get(CONFIG, auth=("alice", PASSWORD))).status_code == 200
    assert (await enrollment.client.get(CONFIG, auth=("user9", "guess"))).status_code == 401
    assert (await enrollment.client.get(CONFIG, auth=("alice", PASSWORD))).status_code == 429


async def test_every_enrollment_is_audited_and_the_chain_verifies(enrollment: EnrollmentFixture) -> None:
    entries = list(enrollment.authority.name_entries)
    csr, _ = make_csr("alice", entries)
    issued = der_certificate((await sign(enrollment, pem(csr))).json()["signedCert"])
    assert (await sign(enrollment, pem(make_csr("bob", entries)[0]))).status_code == 400
    assert (await enrollment.client.get(CONFIG, auth=("mallory", "guess"))).status_code == 401

    kinds = {entry["kind"]: entry for entry in enrollment.audit()}
    assert kinds["enrollment"]["serial"] == f"{issued.serial_number:x}"
    assert (kinds["enrollment"]["user"], kinds["enrollment"]["client_uid"]) == ("alice", "ANDROID-1")
    assert kinds["enrollment"]["address"] == "127.0.0.1"
    assert kinds["enrollment_refused"]["reason"].startswith("the CSR subject")
    assert (kinds["login_failed"]["user"], kinds["login_failed"]["address"]) == ("mallory", "127.0.0.1")
    report = verify_audit_log(audit_path(enrollment.data_dir))
    assert report.ok
    assert report.entries == 3

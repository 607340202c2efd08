"""node-tak's ``Certificate`` (``/Marti/api/certadmin/cert…``) and ``Security``
(``/Marti/api/security/…``, ``/Marti/api/authentication/config``) against a real server over
mutual TLS, answers checked against node-tak's TypeBox schemas.

node-tak 12's ``list``, ``listRevoked``, ``listExpired``, ``listReplaced`` and ``get`` fail
before sending (they pass no ``method`` to its ``fetch``), so those paths go through node-tak's
own ``fetch`` with the method set; ``download``, ``revoke`` and ``revokeIds`` are node-tak's.

An administrator lists, reads, downloads and revokes; the revocation goes the way of
``rallypoint cert revoke`` (store, CRL, audit), so the revoked device's open stream is closed by
the identity watch. Anyone else is refused every call, as TAK Server refuses non-admins."""

from pathlib import Path

from cryptography import x509

from tests.conftest import PkiFixture, RunningServer, TlsClients
from tests.integration.test_marti_api import tls_settings
from tests.integration.test_tls import _audit_kinds, _crl_serials
from tests.interop.node_tak import call_all, requires_node_tak

pytestmark = requires_node_tak
__all__ = ["tls_settings"]

CERT_SCHEMA = "lib/api/certificate#TAKList_Certificate"
BASE = "/Marti/api/certadmin/cert"


def get(name: str, path: str, schema: str | None = CERT_SCHEMA) -> dict[str, object]:
    """A GET node-tak 12 cannot send itself, through its ``fetch``, the answer parsed as JSON."""
    call: dict[str, object] = {"name": name, "call": "fetch", "path": BASE + path, "json": True}
    return call | ({"schema": schema} if schema else {})


async def test_certificates_with_node_tak(tls_server: RunningServer, pki: PkiFixture, tmp_path: Path) -> None:
    api = f"https://127.0.0.1:{tls_server.ports.api_tls}"
    admin, bob = pki.add_user("root", "admin"), pki.add_user("bob", "ops")
    mallory = pki.add_user("mallory", "ops")
    listing = await call_all(api, pki, admin, [get("list", "")], tmp_path / "l")
    assert listing["list"]["ok"], listing
    rows = {row["subjectDn"].split(",")[0]: row for row in listing["list"]["value"]["data"]}
    bob_row, mallory_row = rows["CN=bob"], rows["CN=mallory"]

    outsider = await call_all(
        api,
        pki,
        bob,
        [
            get("list", ""),
            get("own", "?username=bob"),
            get("get", f"/{bob_row['hash']}"),
            {"name": "download", "call": "Certificate.download", "args": [bob_row["hash"]]},
            {"name": "revoke", "call": "Certificate.revoke", "args": [mallory_row["hash"]]},
            {"name": "revokeIds", "call": "Certificate.revokeIds", "args": [[mallory_row["id"]]]},
        ],
        tmp_path / "o",
    )
    assert {name: call["status"] for name, call in outsider.items()} == dict.fromkeys(outsider, 403)

    async with TlsClients(tls_server, pki) as clients:
        device = await clients.connect(mallory)
        calls = [
            get("list", ""),
            get("bob", "?username=bob"),
            get("get", f"/{bob_row['hash']}", "lib/api/certificate#TAKItem_Certificate"),
            {"name": "download", "call": "Certificate.download", "args": [bob_row["hash"]]},
            {"name": "revokeIds", "call": "Certificate.revokeIds", "args": [[mallory_row["id"]]]},
            get("revoked", "/revoked"),
            get("expired", "/expired"),
            get("replaced", "/replaced"),
            get("active", "/active"),
            {"name": "revoke", "call": "Certificate.revoke", "args": [bob_row["hash"]]},
            get("missing", "/" + "0" * 64),
            get("bad", "/not-a-hash"),
        ]
        done = await call_all(api, pki, admin, calls, tmp_path / "a")
        assert await device.closed_by_server(), "the identity watch cut the revoked device off"

    assert done["list"]["schemaErrors"] == [], done["list"]
    assert len(done["list"]["value"]["data"]) == 3
    for name in ("bob", "get", "revoked", "expired", "replaced", "active"):
        assert done[name]["schemaErrors"] == [], done[name]
    assert [row["subjectDn"].split(",")[0] for row in done["bob"]["value"]["data"]] == ["CN=bob"]
    one = done["get"]["value"]["data"]
    assert one["serialNumber"] == f"{bob.serial:x}"
    assert "revocationDate" not in one
    pem = x509.load_pem_x509_certificate(one["certificate"].encode())
    assert pem.serial_number == bob.serial
    assert x509.load_pem_x509_certificate(done["download"]["value"].encode()).serial_number == bob.serial
    assert done["revokeIds"]["value"]["data"] == 1
    assert [row["id"] for row in done["revoked"]["value"]["data"]] == [mallory_row["id"]]
    assert done["revoked"]["value"]["data"][0]["revocationDate"]
    assert done["expired"]["value"]["data"] == []
    assert done["replaced"]["value"]["data"] == []
    assert {row["id"] for row in done["active"]["value"]["data"]} == {rows["CN=root"]["id"], bob_row["id"]}
    assert done["revoke"]["ok"], done["revoke"]
    assert done["missing"]["status"] == 404
    assert done["bad"]["status"] == 400
    assert {bob.serial, mallory.serial} <= _crl_serials(pki)
    assert admin.serial not in _crl_serials(pki)
    assert _audit_kinds(pki).count("revocation") == 3, "two by the admin, one closing mallory's stream"
    entries = (pki.data_dir / "audit.log").read_text()
    assert entries.count('"via":"marti","by":"root"') == 2


async def test_security_settings_with_node_tak(
    tls_server: RunningServer, pki: PkiFixture, tmp_path: Path
) -> None:
    api = f"https://127.0.0.1:{tls_server.ports.api_tls}"
    admin, bob = pki.add_user("root", "admin"), pki.add_user("bob", "ops")
    calls = [
        {"name": "security", "call": "Security.securityConfig", "schema": "lib/api/security#SecurityConfig"},
        {"name": "auth", "call": "Security.authConfig", "schema": "lib/api/security#AuthConfig"},
        {"name": "verify", "call": "Security.verifyConfig", "schema": "lib/api/security#IsValid"},
        {"name": "secure", "call": "Security.isSecure", "schema": "lib/api/security#IsSecure"},
    ]
    done = await call_all(api, pki, admin, calls, tmp_path / "a")
    refused = await call_all(api, pki, bob, calls, tmp_path / "b")

    for name, call in done.items():
        assert call["ok"], (name, call)
        assert call["schemaErrors"] == [], (name, call)
    security = done["security"]["value"]["data"]
    assert security["tlsVersion"] == "TLSv1.2"
    assert security["x509Groups"] is True
    assert security["x509addAnon"] is False
    assert security["enableEnrollment"] is False, "this test server has no enrollment port"
    assert (security["keystorePass"], security["truststorePass"], security["signingKeystorePass"]) == (
        "",
        "",
        "",
    )
    assert done["auth"]["value"]["data"]["url"] == "", "no LDAP directory"
    assert done["auth"]["value"]["data"]["serviceAccountCredential"] == ""
    assert done["verify"]["value"]["data"] == "true"
    settings = tls_server.server.context.settings
    assert done["secure"]["value"]["data"] == f"[{settings.tcp_port}, {settings.api_plain_port}]"
    assert {name: call["status"] for name, call in refused.items()} == dict.fromkeys(refused, 403)

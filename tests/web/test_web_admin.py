"""User and certificate administration on the web port (``/api/users``): admins only, on the
server's own identity store and CA, every change audited with the admin who made it."""

import base64
import json
from collections.abc import Callable

from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from rallypoint.http.command_post.admin import ADMIN_GROUP
from rallypoint.pki.paths import audit_path
from tests.conftest import RunningServer
from tests.web.conftest import Browser, password


async def test_an_admin_adds_a_crew_member_issues_and_revokes_a_certificate(
    web_server: RunningServer, browsers: Callable[[], Browser]
) -> None:
    identities = web_server.server.context.identities
    assert identities is not None
    identities.add_user("root", password("root"), [ADMIN_GROUP])
    admin, alice, nobody = browsers(), browsers(), browsers()
    assert (await admin.login("root")).status_code == 200
    await alice.login("alice")

    assert (await nobody.get("/api/users")).status_code == 401
    assert (await alice.get("/api/users")).status_code == 403, "not an admin"
    assert (
        await alice.post("/api/users", {"name": "x", "password": "p", "groups": ["blue"]})
    ).status_code == 403

    crew = {"name": "crew1", "password": password("crew1"), "groups": ["blue"], "role": "Team Lead"}
    created = await admin.post("/api/users", crew)
    assert created.status_code == 201, created.text
    assert created.json()["groups"] == ["blue"]
    assert (await admin.post("/api/users", crew)).status_code == 409
    assert (await admin.post("/api/users", {**crew, "name": "crew2", "groups": []})).status_code == 400
    listed = {user["name"]: user for user in (await admin.get("/api/users")).json()}
    assert listed["crew1"]["role"] == "Team Lead"
    assert "alice" in listed
    assert (await browsers().login("crew1")).status_code == 200, "the new user can log in at once"

    issued = await admin.post("/api/users/crew1/certificate")
    assert issued.status_code == 201, issued.text
    assert issued.headers["cache-control"] == "no-store"
    body = issued.json()
    certificate = x509.load_pem_x509_certificate(body["certificate"].encode())
    assert certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "crew1"
    key, p12_certificate, _ = pkcs12.load_key_and_certificates(
        base64.b64decode(body["p12"]), body["p12Password"].encode()
    )
    assert key is not None
    assert p12_certificate is not None
    assert p12_certificate.serial_number == int(body["serial"], 16)
    assert (await admin.post("/api/users/nobody/certificate")).status_code == 404

    revoked = await admin.post("/api/users/crew1/revoke")
    assert revoked.json() == {"user": "crew1", "revoked": [body["serial"]]}
    [record] = next(u for u in (await admin.get("/api/users")).json() if u["name"] == "crew1")["certificates"]
    assert record["revoked"] is not None

    lines = audit_path(web_server.server.settings.data_dir).read_text().splitlines()
    entries = [e for e in map(json.loads, lines) if e.get("by") == "root"]
    assert [(e["kind"], e["user"]) for e in entries] == [
        ("user_added", "crew1"),
        ("certificate_issued", "crew1"),
        ("revocation", "crew1"),
    ]

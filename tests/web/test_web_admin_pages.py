"""The admin pages' routes on a real server: groups and memberships, onboarding (a connection
package and an enrollment QR code) and connected devices. Admins only, every change audited
with the admin who made it, and hostile requests (non-admins, missing CSRF, bad bodies, other
users' and unknown devices) change nothing."""

import base64
import dataclasses
import io
import json
import zipfile
from collections.abc import Callable
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from cryptography.hazmat.primitives.serialization import pkcs12

from rallypoint.config import Settings
from rallypoint.http.command_post.admin import ADMIN_GROUP
from rallypoint.pki.paths import audit_path
from rallypoint.pki.qr import enrollment_link, enrollment_png
from tests.conftest import RunningServer
from tests.interop.clients import TakClient, event_xml, eventually
from tests.web.conftest import Browser, password

HOST = "tak.example.org"


@pytest.fixture
def web_settings(web_settings: Settings) -> Settings:
    """TLS streaming and enrollment on (free ports), so packages and QR codes have a target."""
    return dataclasses.replace(web_settings, tls_port=0, enrollment_port=0, hostnames=f"{HOST},127.0.0.1")


async def admin_and_alice(server: RunningServer, browsers: Callable[[], Browser]) -> tuple[Browser, Browser]:
    identities = server.server.context.identities
    assert identities is not None
    identities.add_user("root", password("root"), [ADMIN_GROUP])
    admin, alice = browsers(), browsers()
    assert (await admin.login("root")).status_code == 200
    assert (await alice.login("alice")).status_code == 200
    return admin, alice


def audited(server: RunningServer, by: str) -> list[dict[str, Any]]:
    lines = audit_path(server.server.settings.data_dir).read_text().splitlines()
    return [entry for entry in map(json.loads, lines) if entry.get("by") == by]


async def test_groups_list_members_and_memberships_change(
    web_server: RunningServer, browsers: Callable[[], Browser]
) -> None:
    admin, alice = await admin_and_alice(web_server, browsers)
    groups = {g["name"]: g["members"] for g in (await admin.get("/api/groups")).json()}
    assert groups == {"__ANON__": ["alice", "bob"], "blue": ["alice"], "red": ["eve"], ADMIN_GROUP: ["root"]}

    added = await admin.post("/api/groups/red/members", {"user": "alice"})
    assert added.status_code == 200, added.text
    assert added.json()["groups"] == ["__ANON__", "blue", "red"]
    again = await admin.post("/api/groups/red/members", {"user": "alice"})
    assert again.json()["groups"] == ["__ANON__", "blue", "red"], "adding twice changes nothing"
    removed = await admin.post("/api/groups/blue/members/alice/remove")
    assert removed.json()["groups"] == ["__ANON__", "red"]
    identities = web_server.server.context.identities
    assert identities is not None
    user = identities.user("alice")
    assert user is not None
    assert user.groups == {"__ANON__", "red"}

    async def session_ended() -> bool:
        return (await alice.get("/api/session")).status_code == 401

    await eventually(session_ended, what="alice's web session ends when her groups change")

    assert [(e["kind"], e["change"], e["group"]) for e in audited(web_server, "root")] == [
        ("user_changed", "group_added", "red"),
        ("user_changed", "group_removed", "blue"),
    ]


async def test_group_changes_refused(web_server: RunningServer, browsers: Callable[[], Browser]) -> None:
    admin, alice = await admin_and_alice(web_server, browsers)
    assert (await alice.get("/api/groups")).status_code == 403
    assert (await alice.post("/api/groups/admin/members", {"user": "alice"})).status_code == 403
    assert (await alice.post("/api/groups/red/members/eve/remove")).status_code == 403
    assert (await browsers().get("/api/groups")).status_code == 401
    no_csrf = await admin.http.post(
        "/api/groups/red/members", json={"user": "bob"}, headers={"Cookie": f"rp_session={admin.cookie}"}
    )
    assert no_csrf.status_code == 403

    for body in ({}, {"user": 5}, {"user": ["bob"]}):
        assert (await admin.post("/api/groups/red/members", body)).status_code == 400
    assert (await admin.post("/api/groups/red/members", [1])).status_code == 400
    assert (await admin.post("/api/groups/%20red/members", {"user": "bob"})).status_code == 400
    assert (await admin.post("/api/groups/red/members", {"user": "nobody"})).status_code == 404
    assert (await admin.post("/api/groups/blue/members/eve/remove")).status_code == 404, "not a member"
    assert (await admin.post("/api/groups/red/members/nobody/remove")).status_code == 404
    assert (await admin.post("/api/groups/red/members/eve/remove")).status_code == 409, "eve's last group"
    assert (await admin.post(f"/api/groups/{ADMIN_GROUP}/members/root/remove")).status_code == 409

    identities = web_server.server.context.identities
    assert identities is not None
    assert {u.name: set(u.groups) for u in identities.users()} == {
        "alice": {"__ANON__", "blue"},
        "bob": {"__ANON__"},
        "eve": {"red"},
        "root": {ADMIN_GROUP},
    }
    assert audited(web_server, "root") == []
    assert audited(web_server, "alice") == []


async def test_a_connection_package_for_a_user(
    web_server: RunningServer, browsers: Callable[[], Browser]
) -> None:
    admin, alice = await admin_and_alice(web_server, browsers)
    made = await admin.post("/api/users/alice/package", {})
    assert made.status_code == 201, made.text
    assert made.headers["cache-control"] == "no-store"
    body = made.json()
    assert (body["filename"], body["warnings"]) == ("alice.zip", [])
    assert body["connect"] == f"{HOST}:{web_server.ports.tls}:ssl"
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(body["zip"]))) as archive:
        names = set(archive.namelist())
        assert {"MANIFEST/manifest.xml", "certs/server.pref", "certs/alice.p12"} <= names
        pref = ET.fromstring(archive.read("certs/server.pref"))
        keystore = archive.read("certs/alice.p12")
    connect = pref.find(".//entry[@key='connectString0']")
    assert connect is not None
    assert connect.text == body["connect"]
    _, certificate, _ = pkcs12.load_key_and_certificates(keystore, body["password"].encode())
    assert certificate is not None
    assert f"{certificate.serial_number:x}" == body["serial"]

    elsewhere = await admin.post("/api/users/alice/package", {"host": "10.9.8.7"})
    assert elsewhere.status_code == 201
    assert "10.9.8.7 is not among" in elsewhere.json()["warnings"][0]
    assert (await admin.post("/api/users/alice/package", {"host": "a b"})).status_code == 400
    assert (await admin.post("/api/users/alice/package", {"host": 7})).status_code == 400
    assert (await admin.post("/api/users/nobody/package", {})).status_code == 404
    assert (await alice.post("/api/users/alice/package", {})).status_code == 403, "not even her own"
    identities = web_server.server.context.identities
    assert identities is not None
    identities.set_disabled("bob", True)
    assert (await admin.post("/api/users/bob/package", {})).status_code == 409

    assert [(e["kind"], e["user"], e["via"]) for e in audited(web_server, "root")] == [
        ("certificate_issued", "alice", "web package"),
        ("certificate_issued", "alice", "web package"),
    ]
    assert len(identities.certificates("alice")) == 2


async def test_an_enrollment_qr_code_for_a_user(
    web_server: RunningServer, browsers: Callable[[], Browser]
) -> None:
    admin, alice = await admin_and_alice(web_server, browsers)
    shown = await admin.post("/api/users/alice/enrollment-qr", {"password": password("alice")})
    assert shown.status_code == 200, shown.text
    assert shown.headers["cache-control"] == "no-store"
    body = shown.json()
    expected = enrollment_png(enrollment_link(HOST, "alice", password("alice")))
    assert base64.b64decode(body["png"]) == expected, "the same code `rallypoint package --qr` writes"
    assert any("enrollment_port is" in warning for warning in body["warnings"]), "not on 8446 here"

    assert (await admin.post("/api/users/alice/enrollment-qr", {"password": "wrong"})).status_code == 422
    assert (await admin.post("/api/users/alice/enrollment-qr", {})).status_code == 400
    assert (await admin.post("/api/users/alice/enrollment-qr", {"password": 1})).status_code == 400
    assert (await admin.post("/api/users/nobody/enrollment-qr", {"password": "x"})).status_code == 404
    assert (
        await alice.post("/api/users/alice/enrollment-qr", {"password": password("alice")})
    ).status_code == 403
    assert [(e["kind"], e["user"]) for e in audited(web_server, "root")] == [("enrollment_qr_shown", "alice")]

    # the password check goes through the login's throttle (3 failures a minute per user and per
    # address here; the wrong guess for alice above counts for this address), not around it
    answers = [
        (await admin.post("/api/users/bob/enrollment-qr", {"password": f"guess {n}"})).status_code
        for n in range(4)
    ]
    assert answers == [422, 422, 429, 429]
    assert (await browsers().login("bob")).status_code == 429, "bob's logins from here are throttled too"


def pli(uid: str) -> bytes:
    detail = f'<contact callsign="{uid}-CS" endpoint="*:-1:stcp"/><__group name="Cyan" role="Team Member"/>'
    return event_xml(uid, "a-f-G-U-C", detail, lat=48.1, lon=11.5)


async def test_connected_devices_and_disconnecting_one(
    web_server: RunningServer, browsers: Callable[[], Browser]
) -> None:
    admin, alice = await admin_and_alice(web_server, browsers)
    router = web_server.server.context.router
    clients = []
    for uid in ("ALPHA-1", "BRAVO-1"):
        client = await TakClient.connect(web_server.ports.tcp, uid)
        await client.send(pli(uid))
        clients.append(client)
    await eventually(lambda: all(router.registry.by_uid(uid) for uid in ("ALPHA-1", "BRAVO-1")))

    rows = {row["uid"]: row for row in (await admin.get("/api/devices")).json()}
    alpha = rows["ALPHA-1"]
    assert (alpha["callsign"], alpha["team"], alpha["groups"], alpha["connected"]) == (
        "ALPHA-1-CS",
        "Cyan",
        ["__ANON__"],
        True,
    )
    assert alpha["address"].startswith("127.0.0.1:")
    assert alpha["transport"] == "tcp"
    assert alpha["user"] is None, "an anonymous plain-TCP device names no user"
    assert alpha["connectedSince"] <= alpha["lastSeen"]

    eve = browsers()
    assert (await eve.login("eve")).status_code == 200
    for outsider in (alice, eve):  # a user who sees the device, and one of another group
        assert (await outsider.get("/api/devices")).status_code == 403
        assert (await outsider.post("/api/devices/ALPHA-1/disconnect")).status_code == 403
    assert (await admin.post("/api/devices/NOBODY/disconnect")).status_code == 404
    assert router.registry.by_uid("ALPHA-1") is not None, "refused requests closed nothing"

    closed = await admin.post("/api/devices/ALPHA-1/disconnect")
    assert closed.json() == {"uid": "ALPHA-1", "closed": 1}
    assert await clients[0].closed_by_server()
    await eventually(lambda: (d := router.devices.get("ALPHA-1")) is not None and not d.connected)
    rows = {row["uid"]: row for row in (await admin.get("/api/devices")).json()}
    assert (rows["ALPHA-1"]["connected"], rows["ALPHA-1"]["address"]) == (False, None)
    assert rows["BRAVO-1"]["connected"], "only the one named is disconnected"
    assert (await admin.post("/api/devices/ALPHA-1/disconnect")).status_code == 409
    [entry] = audited(web_server, "root")
    assert (entry["kind"], entry["uid"], entry["callsign"], entry["connections"]) == (
        "device_disconnected",
        "ALPHA-1",
        "ALPHA-1-CS",
        1,
    )
    for client in clients:
        await client.close()

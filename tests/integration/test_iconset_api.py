"""TAK Server's iconset API on a real server over mutual TLS: an iconset uploaded as ATAK and
TAK Server's admin page do (multipart ``file``) or raw, listed and served to its groups only,
and hostile zips (zip slip, bombs, entities, bad uids) refused."""

import io
import zipfile
from pathlib import Path

import httpx
import pytest
from PIL import Image

from rallypoint.config import Settings
from tests.conftest import PkiFixture, RunningServer
from tests.integration.test_marti_api import https
from tests.settings import listening
from tests.unit.test_zipcheck import build_zip

UID = "6d781afb-89a6-4c07-b2b9-a89748b6a38f"
ICONSET_XML = (
    f'<iconset version="1" name="Field kit" uid="{UID}" default_group="Markers" skip_resize="false"/>'
).encode()


def png(colour: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def iconset(**extra: bytes) -> bytes:
    return build_zip(
        {"iconset.xml": ICONSET_XML, "Markers/red.png": png("red"), "Tools/blue.png": png("blue"), **extra}
    )


@pytest.fixture
def tls_settings(tmp_path: Path) -> Settings:
    return listening(tmp_path, api_tls_port=0)


async def upload(client: httpx.AsyncClient, data: bytes) -> httpx.Response:
    return await client.post("/Marti/api/iconset", files={"file": ("iconset.zip", data, "application/zip")})


async def test_an_iconset_is_listed_and_served_to_its_groups_only(
    tls_server: RunningServer, pki: PkiFixture
) -> None:
    alice, bob, eve = pki.add_user("alice", "ops"), pki.add_user("bob", "ops"), pki.add_user("eve", "other")
    async with https(tls_server, pki, alice) as client:
        posted = await upload(client, iconset())
    async with https(tls_server, pki, bob) as client:
        uids = await client.get("/Marti/api/iconset/all/uid")
        urls = await client.get(f"/Marti/api/iconseturl/{UID}")
        red = await client.get(f"/Marti/api/icon/{UID}/Markers/red.png")
        not_an_icon = await client.get(f"/Marti/api/icon/{UID}/Markers/iconset.xml")
        replaced = await client.put(
            "/Marti/api/iconset", content=iconset(**{"Markers/green.png": png("green")})
        )
        after = await client.get(f"/Marti/api/iconset/{UID}")
    async with https(tls_server, pki, eve) as client:
        hidden = await client.get("/Marti/api/iconset/all/uid")
        hidden_urls = await client.get(f"/Marti/api/iconseturl/{UID}")
        hidden_icon = await client.get(f"/Marti/api/icon/{UID}/Markers/red.png")
        stolen = await upload(client, iconset())
    base = f"https://127.0.0.1:{tls_server.ports.api_tls}/Marti/api/icon/{UID}"
    assert posted.status_code == 200, posted.text
    assert posted.json()["data"] == UID
    assert uids.json() == {
        "version": "3",
        "type": "java.lang.String",
        "data": [UID],
        "nodeId": uids.json()["nodeId"],
    }
    assert urls.json()["data"] == [f"{base}/Markers/red.png", f"{base}/Tools/blue.png"]
    assert (red.status_code, red.headers["content-type"], red.content) == (200, "image/png", png("red"))
    assert not_an_icon.status_code == 404
    assert replaced.status_code == 200, "a member of the iconset's groups may replace it"
    assert after.json()["data"][-1] == f"{base}/Markers/green.png"
    assert hidden.json()["data"] == []
    assert (hidden_urls.status_code, hidden_icon.status_code, stolen.status_code) == (404, 404, 403)


async def test_hostile_iconsets_are_refused(tls_server: RunningServer, pki: PkiFixture) -> None:
    bomb = build_zip({"iconset.xml": ICONSET_XML, "Markers/big.png": b"\0" * (8 * 1024 * 1024)})
    entity = b'<!DOCTYPE i [<!ENTITY e SYSTEM "file:///etc/passwd">]><iconset uid="&e;" name="x"/>'
    bad_uid = ICONSET_XML.replace(UID.encode(), b"../../etc")
    bodies = {
        "zip slip": iconset(**{"../../escape.png": png("red")}),
        "absolute": iconset(**{"/tmp/abs.png": png("red")}),
        "backslash": iconset(**{"..\\win.png": png("red")}),
        "bomb": bomb,
        "no iconset.xml": build_zip({"Markers/red.png": png("red")}),
        "entity": build_zip({"iconset.xml": entity, "Markers/red.png": png("red")}),
        "bad uid": build_zip({"iconset.xml": bad_uid, "Markers/red.png": png("red")}),
        "no icons": build_zip({"iconset.xml": ICONSET_XML}),
        "not xml": build_zip({"iconset.xml": b"<iconset", "Markers/red.png": png("red")}),
        "not a zip": b"PK\x03\x04 certainly not",
    }
    mallory = pki.add_user("mallory", "ops")
    async with https(tls_server, pki, mallory) as client:
        statuses = {name: (await upload(client, body)).status_code for name, body in bodies.items()}
        oversize = await client.put("/Marti/api/iconset", content=b"\0" * (33 * 1024 * 1024))
        listed = await client.get("/Marti/api/iconset/all/uid")
        climb = await client.get(f"/Marti/api/icon/{UID}/..%2F..%2Fidentity.sqlite3/x.png")
    assert statuses == dict.fromkeys(bodies, 400)
    assert oversize.status_code == 413
    assert listed.json()["data"] == []
    assert climb.status_code == 404
    stored = tls_server.server.settings.data_dir / "iconsets"
    assert not stored.exists() or list(stored.iterdir()) == []
    assert not (tls_server.server.settings.data_dir.parent / "escape.png").exists()
    with zipfile.ZipFile(io.BytesIO(bomb)) as archive:
        assert archive.infolist()[1].compress_size < 100_000, "the bomb really is one"

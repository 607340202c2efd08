"""The web command post's configuration and data-package endpoints."""

import io
import zipfile
from collections.abc import Callable

from tests.web.conftest import Browser

MANIFEST = (
    '<MissionPackageManifest version="2"><Configuration>'
    '<Parameter name="uid" value="pkg-1"/><Parameter name="name" value="Plan"/></Configuration>'
    '<Contents><Content ignore="false" zipEntry="notes.txt"/></Contents></MissionPackageManifest>'
)


def package_zip() -> bytes:
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as archive:
        archive.writestr("MANIFEST/manifest.xml", MANIFEST)
        archive.writestr("notes.txt", "hold the bridge")
    return data.getvalue()


async def test_config_names_the_user_and_the_tiles(browsers: Callable[[], Browser]) -> None:
    browser = browsers()
    await browser.login("alice")
    config = (await browser.get("/api/config")).json()
    assert (config["callsign"], config["uid"]) == ("alice", "web-alice")
    assert config["tiles"] == {"url": None, "local": None, "attribution": ""}
    assert config["server"].startswith("Rallypoint")


async def test_packages_upload_list_download_within_groups(browsers: Callable[[], Browser]) -> None:
    alice, eve = browsers(), browsers()
    await alice.login("alice")
    await eve.login("eve")
    body = package_zip()
    uploaded = await alice.post("/api/packages", files={"file": ("plan.zip", body, "application/zip")})
    assert uploaded.status_code == 201, uploaded.text
    record = uploaded.json()
    assert (record["name"], record["filename"], record["size"]) == ("Plan", "plan.zip", len(body))
    listed = (await alice.get("/api/packages")).json()
    assert [item["hash"] for item in listed] == [record["hash"]]
    download = await alice.get(f"/api/packages/{record['hash']}")
    assert download.content == body
    assert (await eve.get("/api/packages")).json() == []
    assert (await eve.get(f"/api/packages/{record['hash']}")).status_code == 404


async def test_a_broken_package_is_refused(browsers: Callable[[], Browser]) -> None:
    browser = browsers()
    await browser.login("alice")
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w") as archive:
        archive.writestr("../escape.txt", "x")
    refused = await browser.post(
        "/api/packages", files={"file": ("bad.zip", data.getvalue(), "application/zip")}
    )
    assert refused.status_code == 400
    assert (await browser.get("/api/packages")).json() == []


async def test_chat_input_is_checked(browsers: Callable[[], Browser]) -> None:
    browser = browsers()
    await browser.login("alice")
    empty = await browser.post("/api/chat", {"to": "All Chat Rooms", "text": "  "})
    huge = await browser.post("/api/chat", {"to": "All Chat Rooms", "text": "x" * 5000})
    not_json = await browser.http.post(
        "/api/chat", content=b"{", headers=browser.headers(**{"Content-Type": "application/json"})
    )
    assert (empty.status_code, huge.status_code, not_json.status_code) == (400, 413, 400)

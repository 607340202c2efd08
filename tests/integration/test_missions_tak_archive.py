"""A mission as a data package both ways (issue 14), over mutual TLS: node-tak's
``Mission.upload`` (``PUT …/contents/missionpackage?creatorUid=`` with the zip as the body) and
``Mission.getArchive`` (``GET …/archive``). A package that fails the upload checks leaves the
mission unchanged; another group's caller gets 404."""

import hashlib
import io
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from rallypoint.config import Settings
from rallypoint.cot.xml import parse_event
from tests.conftest import PkiFixture, RunningServer
from tests.integration.tak_missions import PREFIX, Callers, api_settings, only, open_callers
from tests.unit.test_zipcheck import build_zip, data_package

OCTETS = {"Content-Type": "application/octet-stream"}
ITEM_UIDS = sorted(parse_event(data).uid for name, data in data_package().items() if name.endswith(".cot"))
"""The uids of the events inside the package (not its entry names)."""


@pytest.fixture
def tls_settings(tmp_path: Path) -> Settings:
    return api_settings(tmp_path)


@pytest.fixture
async def callers(tls_server: RunningServer, pki: PkiFixture) -> AsyncIterator[Callers]:
    async with open_callers(tls_server, pki) as opened:
        await opened.cp.put(f"{PREFIX}/op", params={"group": "ops", "creatorUid": "CP-1"})
        yield opened


async def test_a_mission_package_is_added_and_the_archive_holds_it(callers: Callers) -> None:
    package = build_zip(data_package())
    digest = hashlib.sha256(package).hexdigest()
    added = await callers.cp.put(
        f"{PREFIX}/op/contents/missionpackage", params={"creatorUid": "CP-1"}, content=package, headers=OCTETS
    )
    assert added.status_code == 200, added.text
    assert added.json()["type"] == "MissionChange"
    assert added.json()["data"] == []
    mission = only(await callers.cp.get(f"{PREFIX}/op"))
    assert [c["data"]["hash"] for c in mission["contents"]] == [digest]
    assert sorted(u["data"] for u in mission["uids"]) == sorted(ITEM_UIDS)
    fetched = await callers.cp.get("/Marti/sync/content", params={"hash": digest})
    assert fetched.content == package

    archive = await callers.cp.get(f"{PREFIX}/op/archive")
    assert archive.status_code == 200
    assert archive.headers["content-type"] == "application/zip"
    assert 'filename="op.zip"' in archive.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(archive.content)) as zipped:
        names = set(zipped.namelist())
        manifest = ET.fromstring(zipped.read("MANIFEST/manifest.xml"))
        assert zipped.read(next(n for n in names if n.startswith(digest))) == package
        item = zipped.read(f"{ITEM_UIDS[0]}/{ITEM_UIDS[0]}.cot")
    parameters = {p.get("name"): p.get("value") for p in manifest.iter("Parameter") if p.get("name") != "uid"}
    assert parameters["name"] == "op"
    entries = {c.get("zipEntry") for c in manifest.iter("Content")}
    assert entries == names - {"MANIFEST/manifest.xml"}
    assert ET.fromstring(item).get("uid") == ITEM_UIDS[0]


async def test_package_refusals_and_other_groups(callers: Callers) -> None:
    slip = build_zip({**data_package(), "../../evil.cot": b"<event/>"})
    refused = await callers.cp.put(
        f"{PREFIX}/op/contents/missionpackage", params={"creatorUid": "CP-1"}, content=slip, headers=OCTETS
    )
    not_zip = await callers.cp.put(
        f"{PREFIX}/op/contents/missionpackage",
        params={"creatorUid": "CP-1"},
        content=b"hello",
        headers=OCTETS,
    )
    no_creator = await callers.cp.put(f"{PREFIX}/op/contents/missionpackage", content=slip, headers=OCTETS)
    assert (refused.status_code, not_zip.status_code, no_creator.status_code) == (400, 415, 400)
    assert only(await callers.cp.get(f"{PREFIX}/op"))["contents"] == []
    package = build_zip(data_package())
    hidden = await callers.eve.put(
        f"{PREFIX}/op/contents/missionpackage",
        params={"creatorUid": "EVE-1"},
        content=package,
        headers=OCTETS,
    )
    hidden_archive = await callers.eve.get(f"{PREFIX}/op/archive")
    assert (hidden.status_code, hidden_archive.status_code) == (404, 404)
    await callers.alpha.put(f"{PREFIX}/op/subscription", params={"uid": "ALPHA-1"})
    await callers.cp.put(
        f"{PREFIX}/op/role",
        params={"clientUid": "ALPHA-1", "role": "MISSION_READONLY_SUBSCRIBER", "creatorUid": "CP-1"},
    )
    readonly = await callers.alpha.put(
        f"{PREFIX}/op/contents/missionpackage",
        params={"creatorUid": "ALPHA-1"},
        content=package,
        headers=OCTETS,
    )
    assert readonly.status_code == 403
    assert (
        await callers.alpha.get(f"{PREFIX}/op/archive", params={"clientUid": "ALPHA-1"})
    ).status_code == 200

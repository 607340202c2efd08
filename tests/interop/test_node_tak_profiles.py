"""Device profiles read by node-tak (``Profile.connection``, and node-tak's request path for
``/profile/tool/{tool}``) and opened with node-cot's own ``DataPackage`` parser."""

import os
from pathlib import Path

import pytest

from rallypoint.config import Settings
from tests.conftest import PkiFixture, RunningServer
from tests.interop.node_tak import call_all, requires_node_tak
from tests.settings import listening

pytestmark = requires_node_tak

MAP_SOURCE = b'<?xml version="1.0"?><customMapSource><name>Valley</name><url>http://127.0.0.1/{$z}/{$x}/{$y}.png</url></customMapSource>'
PREFS = b'<?xml version="1.0"?><preferences><preference version="1" name="com.atakmap.app_preferences"><entry key="locationTeam" class="class java.lang.String">Cyan</entry></preference></preferences>'

OLD_MTIME = 1_000_000_000


@pytest.fixture
def tls_settings(tmp_path: Path) -> Settings:
    profiles = tmp_path / "profiles"
    (profiles / "connection" / "maps").mkdir(parents=True)
    (profiles / "connection" / "maps" / "valley.xml").write_bytes(MAP_SOURCE)
    (profiles / "groups" / "medics" / "connection").mkdir(parents=True)
    (profiles / "groups" / "medics" / "connection" / "medics.pref").write_bytes(PREFS)
    (profiles / "tool" / "excheck").mkdir(parents=True)
    (profiles / "tool" / "excheck" / "triage.xml").write_bytes(b"<checklist/>")
    for path in profiles.rglob("*"):
        os.utime(path, (OLD_MTIME, OLD_MTIME))  # unchanged for years: a device synced recently gets 204
    return listening(tmp_path, api_tls_port=0, device_profile_dir=str(profiles))


async def test_profiles_are_data_packages_node_cot_reads(
    tls_server: RunningServer, pki: PkiFixture, tmp_path: Path
) -> None:
    api = f"https://127.0.0.1:{tls_server.ports.api_tls}"
    medic, driver = pki.add_user("mia", "ops", "medics"), pki.add_user("dan", "ops")
    connection = "/Marti/api/device/profile/connection?syncSecago=-1&clientUid=ANDROID-1"
    calls = [
        {
            "name": "typed",
            "call": "Profile.connection",
            "args": [{"syncSecago": -1, "clientUid": "ANDROID-1"}],
        },
        {"name": "connection", "call": "fetch", "path": connection, "dataPackage": True},
        {
            "name": "tool",
            "call": "fetch",
            "path": "/Marti/api/device/profile/tool/excheck",
            "dataPackage": True,
        },
        {"name": "none", "call": "fetch", "path": "/Marti/api/device/profile/tool/video"},
        {"name": "traversal", "call": "fetch", "path": "/Marti/api/device/profile/tool/..%2F..%2Fdata"},
        {"name": "recent", "call": "fetch", "path": "/Marti/api/device/profile/connection?syncSecago=3600"},
    ]
    mine = await call_all(api, pki, medic, calls, tmp_path / "a")
    assert "MANIFEST/manifest.xml" in mine["typed"]["value"], "node-tak's typed call gets the zip (as text)"
    package = mine["connection"]["dataPackage"]
    assert sorted(package["files"]) == ["maps/valley.xml", "medics.pref"]
    assert package["settings"]["onReceiveImport"] is True
    assert package["settings"]["onReceiveDelete"] is True
    assert package["settings"]["name"] == "Connection profile"
    assert mine["tool"]["dataPackage"]["files"] == ["triage.xml"]
    assert [mine[name]["value"]["status"] for name in ("none", "traversal")] == [204, 404]
    assert mine["recent"]["value"]["status"] == 204, "nothing changed within the hour the device asks about"

    theirs = await call_all(api, pki, driver, calls[1:2], tmp_path / "b")
    assert theirs["connection"]["dataPackage"]["files"] == ["maps/valley.xml"], (
        "another group's files stay out"
    )

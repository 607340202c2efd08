"""node-tak's ``Files`` against a real server over mutual TLS: upload, list, metadata, download,
count, config and deletion, each by the client's own code, and another group's view of them."""

from pathlib import Path

import pytest

from rallypoint.config import Settings
from tests.conftest import PkiFixture, RunningServer
from tests.interop.node_tak import as_bytes, call_all, from_bytes, requires_node_tak
from tests.settings import listening

pytestmark = requires_node_tak

BODY = b"route notes: ford the river at the second bridge\n"


@pytest.fixture
def tls_settings(tmp_path: Path) -> Settings:
    return listening(tmp_path, api_tls_port=0, upload_max_bytes=8 * 1024 * 1024)


async def test_files_round_trip_with_node_tak(
    tls_server: RunningServer, pki: PkiFixture, tmp_path: Path
) -> None:
    api = f"https://127.0.0.1:{tls_server.ports.api_tls}"
    alice, mallory = pki.add_user("alice", "ops"), pki.add_user("mallory", "outsiders")
    upload = {
        "name": "upload",
        "call": "Files.upload",
        "args": [
            {
                "name": "notes.txt",
                "keywords": ["route", "river"],
                "creatorUid": "ANDROID-ALICE",
                "contentType": "text/plain",
                "contentLength": len(BODY),
            },
            as_bytes(BODY),
        ],
    }
    uploaded = (await call_all(api, pki, alice, [upload], tmp_path / "a"))["upload"]["value"]
    sha = uploaded["Hash"]
    assert uploaded["Keywords"] == ["route", "river"]
    assert uploaded["CreatorUid"] == "ANDROID-ALICE"
    assert (uploaded["Size"], uploaded["EXPIRATION"]) == (str(len(BODY)), "-1")
    assert uploaded["PrimaryKey"].isdigit()

    calls = [
        {"name": "list", "call": "Files.list", "schema": "lib/api/files#TAKList_Content"},
        {"name": "meta", "call": "Files.meta", "args": [sha]},
        {"name": "download", "call": "Files.download", "args": [sha]},
        {"name": "count", "call": "Files.count"},
        {"name": "config", "call": "Files.config", "schema": "lib/api/files#Config"},
    ]
    seen = await call_all(api, pki, alice, calls, tmp_path / "b")
    assert seen["list"]["schemaErrors"] == []
    assert [(row["name"], row["size"]) for row in seen["list"]["value"]["data"]] == [("notes.txt", len(BODY))]
    assert '"Hash":"' + sha in seen["meta"]["value"].replace(" ", "")
    assert from_bytes(seen["download"]["value"]) == BODY
    assert seen["count"]["value"]["data"] == 1
    assert seen["config"]["schemaErrors"] == []
    assert seen["config"]["value"] == {"uploadSizeLimit": 8}

    outsider = await call_all(
        api,
        pki,
        mallory,
        [*calls[:2], {"name": "delete", "call": "Files.adminDelete", "args": [sha]}],
        tmp_path / "c",
    )
    assert outsider["list"]["value"]["data"] == []
    assert "File not found" in outsider["meta"]["value"], "another group's file is absent"
    assert outsider["delete"]["status"] == 404

    gone = await call_all(
        api,
        pki,
        alice,
        [{"name": "delete", "call": "Files.adminDelete", "args": [sha]}, calls[3]],
        tmp_path / "d",
    )
    assert gone["delete"]["ok"]
    assert gone["count"]["value"]["data"] == 0

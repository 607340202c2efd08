"""node-tak's ``Video`` (``/Marti/api/video``) against a real server: create, list, get, update
and delete through the client's own code, answers checked with its TypeBox schemas, and
another group kept out."""

from pathlib import Path

import pytest

from rallypoint.config import Settings
from tests.conftest import PkiFixture, RunningServer
from tests.interop.node_tak import call_all, requires_node_tak
from tests.settings import listening

pytestmark = requires_node_tak

DRONE = {
    "uuid": "3d5c2a9e-0000-4000-8000-00000000d001",
    "active": True,
    "alias": "Drone 1",
    "feeds": [
        {"uuid": "feed-d1-main", "active": True, "alias": "Drone 1 EO", "url": "rtsp://127.0.0.1:8554/drone1"}
    ],
}


@pytest.fixture
def tls_settings(tmp_path: Path) -> Settings:
    return listening(tmp_path, api_tls_port=0)


async def test_video_connections_with_node_tak(
    tls_server: RunningServer, pki: PkiFixture, tmp_path: Path
) -> None:
    api = f"https://127.0.0.1:{tls_server.ports.api_tls}"
    alice, mallory = pki.add_user("alice", "ops", "air"), pki.add_user("mallory", "outsiders")
    uuid = DRONE["uuid"]
    renamed = {**DRONE, "alias": "Drone 1 (north)"}
    calls = [
        {
            "name": "create",
            "call": "Video.create",
            "args": [{**DRONE, "groups": ["air"]}],
            "schema": "lib/api/video#VideoConnection",
        },
        {"name": "list", "call": "Video.list", "schema": "lib/api/video#VideoConnectionList"},
        {
            "name": "update",
            "call": "Video.update",
            "args": [renamed],
            "schema": "lib/api/video#VideoConnection",
        },
        {"name": "rtmp", "call": "Video.list", "args": [{"protocol": "rtmp"}]},
    ]
    made = await call_all(api, pki, alice, calls, tmp_path / "a")
    assert made["create"]["schemaErrors"] == [], made["create"]
    assert made["create"]["value"]["feeds"][0]["url"] == "rtsp://127.0.0.1:8554/drone1"
    assert made["list"]["schemaErrors"] == []
    assert [c["uuid"] for c in made["list"]["value"]["videoConnections"]] == [uuid]
    assert made["update"]["value"]["alias"] == "Drone 1 (north)"
    assert made["rtmp"]["value"]["videoConnections"][0]["feeds"] == []

    hostile = [
        {"name": "list", "call": "Video.list"},
        {"name": "get", "call": "Video.get", "args": [uuid]},
        {"name": "update", "call": "Video.update", "args": [{**DRONE, "alias": "mine now"}]},
        {"name": "delete", "call": "Video.delete", "args": [uuid]},
        {"name": "steal", "call": "Video.create", "args": [{**DRONE, "alias": "mine now"}]},
    ]
    outsider = await call_all(api, pki, mallory, hostile, tmp_path / "b")
    assert outsider["list"]["value"] == {"videoConnections": []}
    assert [outsider[name]["status"] for name in ("get", "update", "delete", "steal")] == [404, 404, 404, 400]

    end = await call_all(
        api,
        pki,
        alice,
        [
            {"name": "get", "call": "Video.get", "args": [uuid]},
            {"name": "delete", "call": "Video.delete", "args": [uuid]},
            {"name": "list", "call": "Video.list"},
        ],
        tmp_path / "c",
    )
    assert end["get"]["value"]["alias"] == "Drone 1 (north)", "the outsider changed nothing"
    assert end["delete"]["ok"]
    assert end["list"]["value"] == {"videoConnections": []}

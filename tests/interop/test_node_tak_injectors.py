"""node-tak's ``Injectors`` (``/Marti/api/injectors/cot/uid``) against a real server: create,
list, get and delete by an administrator through the client's own code, answers checked with
its TypeBox schema; another team's administrator cannot reach them and a non-administrator is
refused."""

from pathlib import Path

import pytest

from rallypoint.config import Settings
from tests.conftest import PkiFixture, RunningServer
from tests.interop.node_tak import call_all, requires_node_tak
from tests.settings import listening

pytestmark = requires_node_tak

SCHEMA = "lib/api/injectors#TAKList_Injector"
CAMERA = {"uid": "ANDROID-cam", "toInject": 'remarks source="camera one"'}


@pytest.fixture
def tls_settings(tmp_path: Path) -> Settings:
    return listening(tmp_path, api_tls_port=0)


async def test_injectors_with_node_tak(tls_server: RunningServer, pki: PkiFixture, tmp_path: Path) -> None:
    api = f"https://127.0.0.1:{tls_server.ports.api_tls}"
    alice, mallory = pki.add_user("alice", "admin", "ops"), pki.add_user("mallory", "admin", "other")
    bob = pki.add_user("bob", "ops")
    made = await call_all(
        api,
        pki,
        alice,
        [
            {"name": "create", "call": "Injectors.create", "args": [CAMERA], "schema": SCHEMA},
            {"name": "list", "call": "Injectors.list", "schema": SCHEMA},
            {"name": "get", "call": "Injectors.get", "args": ["ANDROID-cam"], "schema": SCHEMA},
        ],
        tmp_path / "a",
    )
    for name in ("create", "list", "get"):
        assert made[name]["schemaErrors"] == [], made[name]
        assert made[name]["value"]["data"] == [CAMERA]

    outsider = await call_all(
        api,
        pki,
        mallory,
        [
            {"name": "list", "call": "Injectors.list"},
            {"name": "delete", "call": "Injectors.delete", "args": [CAMERA]},
        ],
        tmp_path / "b",
    )
    assert outsider["list"]["value"]["data"] == []
    assert outsider["delete"]["status"] == 404

    member = await call_all(api, pki, bob, [{"name": "list", "call": "Injectors.list"}], tmp_path / "m")
    assert member["list"]["status"] == 403

    end = await call_all(
        api,
        pki,
        alice,
        [
            {"name": "delete", "call": "Injectors.delete", "args": [CAMERA], "schema": SCHEMA},
            {"name": "list", "call": "Injectors.list"},
        ],
        tmp_path / "c",
    )
    assert end["delete"]["schemaErrors"] == []
    assert end["list"]["value"]["data"] == []

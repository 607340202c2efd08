"""node-tak's ``Iconsets.list`` (``/Marti/api/iconset/all/uid``) against a real server: the
uploaded iconset listed to its group, answer checked with node-tak's TypeBox schema, and
absent for another group."""

from pathlib import Path

import pytest

from rallypoint.config import Settings
from tests.conftest import PkiFixture, RunningServer
from tests.integration.test_iconset_api import UID, iconset, upload
from tests.integration.test_marti_api import https
from tests.interop.node_tak import call_all, requires_node_tak
from tests.settings import listening

pytestmark = requires_node_tak

LIST = {"name": "list", "call": "Iconsets.list", "schema": "lib/api/iconsets#TAKList_Iconsets"}


@pytest.fixture
def tls_settings(tmp_path: Path) -> Settings:
    return listening(tmp_path, api_tls_port=0)


async def test_iconsets_with_node_tak(tls_server: RunningServer, pki: PkiFixture, tmp_path: Path) -> None:
    api = f"https://127.0.0.1:{tls_server.ports.api_tls}"
    alice, bob, eve = pki.add_user("alice", "ops"), pki.add_user("bob", "ops"), pki.add_user("eve", "other")
    async with https(tls_server, pki, alice) as client:
        assert (await upload(client, iconset())).status_code == 200
    member = await call_all(api, pki, bob, [LIST], tmp_path / "a")
    outsider = await call_all(api, pki, eve, [LIST], tmp_path / "b")
    assert member["list"]["schemaErrors"] == [], member["list"]
    assert member["list"]["value"]["data"] == [UID]
    assert outsider["list"]["schemaErrors"] == []
    assert outsider["list"]["value"]["data"] == []

"""node-tak's data-package and query calls: ``Files.uploadPackage`` (``/Marti/sync/missionupload``
with node-tak's ``Groups``), ``Package.list`` (``/Marti/sync/search``, each result checked with
node-tak's ``Package`` schema), ``Query.singleFeat`` and ``Query.historyFeats`` (``/cot/xml``)."""

import hashlib
from pathlib import Path

import pytest

from rallypoint.config import Settings
from tests.conftest import PkiFixture, RunningServer, TlsClients
from tests.interop.clients import eventually, pli_xml
from tests.interop.node_tak import as_bytes, call_all, requires_node_tak
from tests.settings import listening
from tests.unit.test_zipcheck import PKG_UID, build_zip, data_package

pytestmark = requires_node_tak


@pytest.fixture
def tls_settings(tmp_path: Path) -> Settings:
    return listening(tmp_path, tls_port=0, api_tls_port=0)


async def test_packages_and_queries_with_node_tak(
    tls_server: RunningServer, pki: PkiFixture, tmp_path: Path
) -> None:
    api = f"https://127.0.0.1:{tls_server.ports.api_tls}"
    alice, mallory = pki.add_user("alice", "ops"), pki.add_user("mallory", "outsiders")
    zipped = build_zip(data_package())
    sha = hashlib.sha256(zipped).hexdigest()
    async with TlsClients(tls_server, pki) as clients:
        device = await clients.connect(alice)
        await device.send(pli_xml("ALICE-NODE", "Alice"))
        await eventually(lambda: tls_server.server.context.router.cache.get("ALICE-NODE") is not None)
        upload = {
            "name": "upload",
            "call": "Files.uploadPackage",
            "args": [
                {"name": "types.zip", "creatorUid": "ANDROID-ALICE", "hash": sha, "keywords": ["maps"]},
                as_bytes(zipped),
            ],
        }
        calls = [
            upload,
            {
                "name": "list",
                "call": "Package.list",
                "args": [{"tool": "public"}],
                "schema": "lib/api/package#Package",
                "schemaItems": "results",
            },
            {"name": "single", "call": "Query.singleFeat", "args": ["ALICE-NODE"]},
        ]
        mine = await call_all(api, pki, alice, calls, tmp_path / "a")
        theirs = await call_all(api, pki, mallory, calls[1:], tmp_path / "b")
    assert mine["upload"]["value"].endswith(f"/Marti/sync/content?hash={sha}")
    assert mine["list"]["schemaErrors"] == []
    [result] = mine["list"]["value"]["results"]
    assert (result["UID"], result["Keywords"], result["Size"]) == (
        PKG_UID,
        ["missionpackage", "maps"],
        str(len(zipped)),
    )
    assert mine["single"]["value"]["properties"]["callsign"] == "Alice"
    assert theirs["list"]["value"]["results"] == []
    assert not theirs["single"]["ok"], "another group's position is not served (node-tak reads the 404 body)"
    assert "Alice" not in theirs["single"]["message"]

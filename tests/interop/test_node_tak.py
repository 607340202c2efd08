"""Interop with npm ``@tak-ps/node-tak`` 12 and ``@tak-ps/node-cot`` (the libraries behind CloudTAK).

A real server with mutual TLS on every secure port; node-tak's stream client (``TAK.connect``
to ``ssl://``) and its REST client (``TAKAPI`` with ``APIAuthCertificate``) run in Node, and
their answers are checked here, against node-tak's own TypeBox schemas where it has one.
"""

from pathlib import Path

import pytest

from rallypoint.config import Settings
from tests.conftest import PkiFixture, RunningServer, TlsClients
from tests.interop.clients import eventually, pli_xml
from tests.interop.node_tak import call_all, requires_node_tak, run_plan
from tests.settings import listening

pytestmark = requires_node_tak


@pytest.fixture
def tls_settings(tmp_path: Path) -> Settings:
    return listening(tmp_path, tls_port=0, api_tls_port=0)


def api_url(server: RunningServer) -> str:
    return f"https://127.0.0.1:{server.ports.api_tls}"


async def test_stream_clients_exchange_a_cot_over_mutual_tls(
    tls_server: RunningServer, pki: PkiFixture, tmp_path: Path
) -> None:
    alice, bob = pki.add_user("alice", "ops"), pki.add_user("bob", "ops")
    feature = {
        "id": "NODE-TAK-1",
        "type": "Feature",
        "properties": {"type": "a-f-G-U-C", "how": "m-g", "callsign": "NODE ALPHA"},
        "geometry": {"type": "Point", "coordinates": [13.405, 52.52, 34.0]},
    }
    plan = {
        "ca": str(pki.ca_file),
        "stream": {
            "url": f"ssl://127.0.0.1:{tls_server.ports.tls}",
            "sender": {"cert": str(alice.certificate), "key": str(alice.key)},
            "receiver": {"cert": str(bob.certificate), "key": str(bob.key)},
            "feature": feature,
        },
    }
    answer = await run_plan(plan, tmp_path / "node")
    received = answer["received"]
    assert received["id"] == "NODE-TAK-1"
    assert received["properties"]["type"] == "a-f-G-U-C"
    assert received["properties"]["callsign"] == "NODE ALPHA"
    assert received["geometry"]["coordinates"][:2] == [13.405, 52.52]
    assert answer["version"], "node-tak reads the server's t-x-takp-v offer"


async def test_rest_basics_match_node_taks_schemas(
    tls_server: RunningServer, pki: PkiFixture, tmp_path: Path
) -> None:
    alice = pki.add_user("alice", "ops", "medics")
    calls = [
        {"name": "groups", "call": "Group.list", "schema": "lib/api/groups#TAKList_Group"},
        {"name": "clients", "call": "Client.list", "args": [{}]},
        {"name": "contacts", "call": "Contacts.list"},
    ]
    results = await call_all(api_url(tls_server), pki, alice, calls, tmp_path / "node")
    groups = results["groups"]
    assert groups["ok"], groups
    assert groups["schemaErrors"] == []
    assert sorted({row["name"] for row in groups["value"]["data"]}) == ["medics", "ops"]
    assert results["clients"]["ok"]
    assert results["clients"]["value"]["data"] == []
    assert results["contacts"] == {"ok": True, "value": [], "schemaErrors": []}


async def test_group_update_without_client_uid_narrows_every_device_of_the_user(
    tls_server: RunningServer, pki: PkiFixture, tmp_path: Path
) -> None:
    router = tls_server.server.context.router
    dora = pki.add_user("dora", "ops", "logistics")
    async with TlsClients(tls_server, pki) as clients:
        device = await clients.connect(dora)
        bystander = await clients.connect(pki.add_user("olga", "ops", "logistics"))
        await device.send(pli_xml("DORA", "Dora"))
        await bystander.send(pli_xml("OLGA", "Olga"))
        await eventually(lambda: router.registry.by_uid("DORA") and router.registry.by_uid("OLGA"))
        active = [
            {"name": "ops", "direction": "IN", "active": True},
            {"name": "ops", "direction": "OUT", "active": True},
            {"name": "logistics", "direction": "OUT", "active": False},
        ]
        calls = [{"name": "update", "call": "Group.update", "args": [active]}]
        results = await call_all(api_url(tls_server), pki, dora, calls, tmp_path / "node")
        assert results["update"]["ok"], results
        subscriber, other = router.registry.by_uid("DORA"), router.registry.by_uid("OLGA")
        assert subscriber is not None
        assert other is not None
        assert subscriber.out_groups == frozenset({"ops"})
        assert other.out_groups == frozenset({"ops", "logistics"}), "another user's device is untouched"

"""Cluster mode (issue 17): missions, objectives and their notifications across nodes.

Two nodes share NATS and one PostgreSQL database (its journal is the one order of mission
changes) and, here, one data directory (one CA and identity store). The command post speaks
the Marti API to node 1; the team's device is connected to node 2 and uses node 2's API.
"""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from rallypoint.config import Settings
from tests.cluster_support import (
    cluster_name,
    cluster_store,
    delete_stream,
    nats_url,
    node_settings,
    postgres_url,
    start_node,
    stop_nodes,
)
from tests.conftest import PkiFixture, RunningServer, TlsClients
from tests.integration.test_missions_api import POINT, create_mission, https, tls_settings
from tests.integration.test_missions_objectives import objective_reply
from tests.interop.clients import eventually, has_type, pli_xml

__all__ = ["cluster_store", "nats_url", "postgres_url", "tls_settings"]  # fixtures


@pytest.fixture
async def nodes(
    tls_settings: Settings, pki: PkiFixture, nats_url: str, cluster_store: str
) -> AsyncIterator[list[RunningServer]]:
    """Two nodes with missions on, both on the data directory of ``pki``."""
    name = cluster_name()
    started: list[RunningServer] = []
    try:
        for node in ("node1", "node2"):
            settings = node_settings(tls_settings, name, node, nats_url, cluster_store, pki.data_dir)
            started.append(await start_node(settings.with_overrides({"missions_enabled": True})))
        yield started
    finally:
        await stop_nodes(started)
        await delete_stream(nats_url, name)


def book(node: RunningServer) -> Any:
    return node.server.components[0].book  # type: ignore[attr-defined]


async def mission_json(client: httpx.AsyncClient, name: str = "op") -> dict[str, Any]:
    response = await client.get(f"/Marti/api/missions/{name}")
    assert response.status_code == 200, response.text
    mission: dict[str, Any] = response.json()["data"][0]
    return mission


async def test_a_mission_changed_on_one_node_notifies_a_subscriber_on_another(
    nodes: list[RunningServer], pki: PkiFixture
) -> None:
    one, two = nodes
    cp, alpha = pki.add_user("cp", "ops"), pki.add_user("alpha", "ops")
    async with (
        https(one, pki, cp) as cp_rest,
        https(two, pki, alpha) as alpha_rest,
        TlsClients(two, pki) as on2,
    ):
        device = await on2.connect(alpha)
        await device.send(pli_xml("ALPHA-1", "Alpha"))
        created = await create_mission(cp_rest, description="Bridge watch")
        announced = await device.receive(has_type("t-x-m-n"))  # node 2 tells its own clients
        response = await alpha_rest.put("/Marti/api/missions/op/subscription", params={"uid": "ALPHA-1"})
        assert response.status_code == 201, response.text
        # node 1 learns of the subscription made on node 2 before it changes the mission
        await eventually(lambda: "ALPHA-1" in book(one).missions[created["guid"]].subscriptions)
        response = await cp_rest.put(
            "/Marti/api/missions/op/contents", params={"creatorUid": "CP-1"}, json={"uids": ["marker-7"]}
        )
        assert response.status_code == 200, response.text
        change = await device.receive(has_type("t-x-m-c"))
        seen_on_two = await mission_json(alpha_rest)
        response = await cp_rest.put("/Marti/api/missions/op/keywords", json=["north", "bridge"])
        assert response.status_code == 200, response.text
        keywords = await device.receive(has_type("t-x-m-c-k"))
        await eventually(lambda: book(two).missions[created["guid"]].keywords == ["north", "bridge"])
    assert created["guid"] in announced.raw.decode()
    assert "marker-7" in change.raw.decode()
    assert created["guid"] in keywords.raw.decode()
    assert seen_on_two["guid"] == created["guid"]
    assert seen_on_two["uids"][0]["data"] == "marker-7"
    assert [m.type for m in device.history].count("t-x-m-n") == 1  # announced once, by node 2
    assert two.server.context.counters.get("mission_changes_from_other_nodes") >= 3


async def test_an_objective_assigned_on_one_node_reaches_a_device_on_another_and_its_ack_returns(
    nodes: list[RunningServer], pki: PkiFixture
) -> None:
    one, two = nodes
    cp, alpha = pki.add_user("cp", "ops"), pki.add_user("alpha", "ops")
    async with https(one, pki, cp) as cp_rest, TlsClients(two, pki) as on2:
        device = await on2.connect(alpha)
        await device.send(pli_xml("ALPHA-1", "Alpha"))
        await eventually(lambda: one.server.context.router.devices.get("ALPHA-1") is not None)
        await create_mission(cp_rest)
        body = {"title": "Bridge", "description": "Hold it", "priority": "high", "geometry": POINT}
        response = await cp_rest.post("/api/missions/op/objectives", json=body)
        assert response.status_code == 201, response.text
        objective = response.json()
        response = await cp_rest.post(f"/api/objectives/{objective['id']}/assign", json={"assignee": "Alpha"})
        assert response.status_code == 200, response.text
        marker = await device.receive(has_type("b-m-p-s-p-i"))
        await device.send(objective_reply(objective["id"], "acknowledged"))  # to node 2
        await eventually(lambda: book(one).objective(objective["id"])[1].state == "acknowledged")
    assert f"ACK {objective['shortId']}" in marker.raw.decode()
    assert book(two).objective(objective["id"])[1].state == "acknowledged"


async def test_one_mission_created_on_two_nodes_at_once_exists_once_on_both(
    nodes: list[RunningServer], pki: PkiFixture
) -> None:
    one, two = nodes
    cp, alpha = pki.add_user("cp", "ops"), pki.add_user("alpha", "ops")
    async with https(one, pki, cp) as on1, https(two, pki, alpha) as on2:
        first, second = await asyncio.gather(
            *(client.put("/Marti/api/missions/op", params={"group": "ops"}) for client in (on1, on2))
        )
        statuses = sorted([first.status_code, second.status_code])
        winner = first if first.status_code == 201 else second
        guid = winner.json()["data"][0]["guid"]
        await eventually(lambda: all(guid in book(node).missions for node in nodes))
        guids_on_two = (await mission_json(on2))["guid"], (await mission_json(on1))["guid"]
    assert statuses in ([200, 201], [201, 409])  # the later one updated it, or lost the race: 409
    assert [list(book(node).missions) for node in nodes] == [[guid], [guid]]
    assert guids_on_two == (guid, guid)

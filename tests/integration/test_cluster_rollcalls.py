"""Cluster mode (issue 17): roll calls across nodes, through the shared journal.

Two nodes share NATS, one PostgreSQL database (its journal is the one order of roll call
changes) and one data directory (the web users). The command post starts a roll call on
node 1's web API; one device is connected to node 2 and checks in there by GeoChat, the other
to node 1 by CoT reply; each node's API and live page show the same roll call and answers.
"""

import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from rallypoint.config import Settings
from rallypoint.missions.rollcall_service import RollCallService
from rallypoint.pki.identities import IdentityStore
from rallypoint.pki.paths import identity_path
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
from tests.conftest import RunningServer
from tests.interop.clients import eventually
from tests.web.conftest import TIMEOUT, USERS, Browser, password, web_settings
from tests.web.test_web_rollcall import device, is_request, reply, rollcall_of, statuses
from tests.web.test_web_rollcall_replies import answered

__all__ = ["cluster_store", "nats_url", "postgres_url", "web_settings"]  # fixtures


@pytest.fixture
async def nodes(
    web_settings: Settings, nats_url: str, cluster_store: str
) -> AsyncIterator[list[RunningServer]]:
    """Two nodes with a web port each, on one data directory with the web users."""
    web_settings.data_dir.mkdir(parents=True)
    with IdentityStore(identity_path(web_settings.data_dir)) as store:
        for user, groups in USERS.items():
            store.add_user(user, password(user), groups)
    name = cluster_name()
    started: list[RunningServer] = []
    try:
        for node in ("node1", "node2"):
            settings = node_settings(web_settings, name, node, nats_url, cluster_store, web_settings.data_dir)
            started.append(await start_node(settings.with_overrides({"missions_enabled": True})))
        yield started
    finally:
        await stop_nodes(started)
        await delete_stream(nats_url, name)


@pytest.fixture
async def browsers(nodes: list[RunningServer]) -> AsyncIterator[Callable[[RunningServer], Browser]]:
    """A logged-out page on a node's web port; every client is closed afterwards."""
    clients: list[httpx.AsyncClient] = []

    def open_page(node: RunningServer) -> Browser:
        port = node.ports.web or 0
        client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=TIMEOUT)
        clients.append(client)
        return Browser(client, port)

    try:
        yield open_page
    finally:
        for client in clients:
            await client.aclose()


def service(node: RunningServer) -> RollCallService:
    [found] = [c for c in node.server.components if isinstance(c, RollCallService)]
    return found


async def listed(browser: Browser) -> list[dict[str, Any]]:
    response = await browser.get("/api/rollcalls")
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()
    return data


async def test_a_roll_call_started_on_one_node_is_answered_on_both(
    nodes: list[RunningServer], browsers: Callable[[RunningServer], Browser]
) -> None:
    one, two = nodes
    on1, on2 = browsers(one), browsers(two)
    await on1.login("alice")
    await on2.login("alice")
    alpha = await device(two, "ALPHA-1")
    bravo = await device(one, "BRAVO-1")
    await eventually(lambda: one.server.context.router.devices.get("ALPHA-1") is not None)
    async with on2.live() as live:
        await live.receive(lambda m: m["type"] == "snapshot")
        started = await on1.post("/api/rollcalls", {"deadlineSeconds": 600, "noPositionMinutes": 5})
        assert started.status_code == 201, started.text
        rollcall = started.json()
        request = await alpha.receive(is_request)  # sent by node 1, delivered by node 2
        await eventually(lambda: rollcall["id"] in service(two).book.rollcalls)
        seen_on_two = await listed(on2)

        await alpha.send(reply("ALPHA-1", "PAR"))  # to node 2
        receipt = await alpha.receive(lambda m: m.type == "b-t-f" and "check-in received" in m.detail)
        await eventually(lambda: service(one).book.rollcalls[rollcall["id"]].members["ALPHA-1"].answered)
        after_alpha = await rollcall_of(on1, rollcall["id"])

        tag = re.search(r"<__rollcall [^>]*/>", (await bravo.receive(is_request)).detail)
        assert tag is not None
        await bravo.send(answered("BRAVO-1", tag.group(0), "on the ridge"))  # a CoT reply, to node 1
        told = await live.receive(lambda m: m["type"] == "rollcall" and m["rollcall"]["complete"])
    final = await rollcall_of(on2, rollcall["id"])
    assert statuses(rollcall) == {"ALPHA-1": "waiting", "BRAVO-1": "waiting"}
    assert rollcall["code"] in request.detail
    assert [r["id"] for r in seen_on_two] == [rollcall["id"]]
    assert rollcall["code"] in receipt.detail
    assert statuses(after_alpha) == {"ALPHA-1": "answered", "BRAVO-1": "waiting"}
    assert statuses(told["rollcall"]) == {"ALPHA-1": "answered", "BRAVO-1": "answered"}
    assert [m["answer"] for m in final["members"]] == ["PAR", "on the ridge"]
    assert statuses(await rollcall_of(on1, rollcall["id"])) == statuses(final)
    assert [m.type for m in alpha.history].count("b-t-f") == 2, "one request, one receipt: no echo"
    assert service(two).host.counters.get("rollcall_changes_from_other_nodes") >= 2
    await alpha.close()
    await bravo.close()

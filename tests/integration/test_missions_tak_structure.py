"""Layers, map layers, parent/children, contacts, invitations and all/subscriptions (issue 14),
with the requests node-tak 12 sends (``MissionLayer.*``, ``Mission.setParent``/``children``/
``contacts``, ``MissionInvite``), over mutual TLS. Another group's caller gets 404 for each."""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from rallypoint.config import Settings
from tests.conftest import PkiFixture, RunningServer, TlsClients
from tests.integration.tak_missions import (
    NODE_TAK_GROUP,
    NODE_TAK_MISSION,
    NODE_TAK_MISSION_INVITE,
    NODE_TAK_MISSION_LAYER,
    NODE_TAK_MISSION_SUBSCRIBER,
    NODE_TAK_SUBSCRIPTION,
    PREFIX,
    Callers,
    api_settings,
    conforms,
    only,
    open_callers,
)
from tests.interop.clients import eventually, has_type, pli_xml, sync


@pytest.fixture
def tls_settings(tmp_path: Path) -> Settings:
    return api_settings(tmp_path)


@pytest.fixture
async def callers(tls_server: RunningServer, pki: PkiFixture) -> AsyncIterator[Callers]:
    async with open_callers(tls_server, pki) as opened:
        await opened.cp.put(f"{PREFIX}/op", params={"group": "ops", "creatorUid": "CP-1"})
        yield opened


def data(response: httpx.Response, type_name: str) -> Any:
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["version"], body["type"]) == ("3", type_name)
    return body["data"]


async def test_layers_crud_and_attached_uids(callers: Callers) -> None:
    cp = callers.cp
    group = await cp.put(
        f"{PREFIX}/op/layers", params={"name": "Recon", "type": "GROUP", "creatorUid": "CP-1"}
    )
    group_uid = data(group, "MissionLayer")["uid"]
    uid_layer = await cp.put(
        f"{PREFIX}/op/layers",
        params={
            "name": "Spots",
            "type": "UID",
            "uid": "spots-1",
            "parentUid": group_uid,
            "creatorUid": "CP-1",
        },
    )
    assert data(uid_layer, "MissionLayer") == {
        "name": "Spots",
        "type": "UID",
        "uid": "spots-1",
        "parentUid": group_uid,
        "uids": [],
    }
    attached = await cp.put(
        f"{PREFIX}/op/contents",
        params={"creatorUid": "CP-1"},
        json={"paths": {"spots-1": [{"uids": ["spot-9"]}]}},
    )
    assert [u["data"] for u in only(attached)["uids"]] == ["spot-9"]
    tree = data(await cp.get(f"{PREFIX}/op/layers"), "MissionLayer")
    for layer in [*tree, *tree[0]["mission_layers"]]:
        conforms(layer, NODE_TAK_MISSION_LAYER)
    assert [layer["name"] for layer in tree] == ["Recon"]
    assert tree[0]["mission_layers"][0]["uids"][0]["data"] == "spot-9"
    renamed = await cp.put(
        f"{PREFIX}/op/layers/spots-1/name", params={"name": "Targets", "creatorUid": "CP-1"}
    )
    moved = await cp.put(f"{PREFIX}/op/layers/parent", params={"layerUid": "spots-1", "creatorUid": "CP-1"})
    assert (renamed.status_code, moved.status_code) == (200, 200)
    roots = data(await cp.get(f"{PREFIX}/op/layers"), "MissionLayer")
    assert [layer["name"] for layer in roots] == ["Recon", "Targets"]
    loop = await cp.put(
        f"{PREFIX}/op/layers/parent",
        params={"layerUid": group_uid, "parentUid": group_uid, "creatorUid": "CP-1"},
    )
    assert loop.status_code == 400
    assert data(await cp.get(f"{PREFIX}/op/layers/spots-1"), "MissionLayer")["name"] == "Targets"
    eve = await callers.eve.get(f"{PREFIX}/op/layers")
    eve_add = await callers.eve.put(
        f"{PREFIX}/op/layers", params={"name": "x", "type": "GROUP", "creatorUid": "E"}
    )
    assert (eve.status_code, eve_add.status_code) == (404, 404)
    await callers.alpha.put(f"{PREFIX}/op/subscription", params={"uid": "ALPHA-1"})
    demoted = await cp.put(
        f"{PREFIX}/op/role",
        params={"clientUid": "ALPHA-1", "role": "MISSION_READONLY_SUBSCRIBER", "creatorUid": "CP-1"},
    )
    assert demoted.status_code == 200
    readonly = await callers.alpha.delete(
        f"{PREFIX}/op/layers", params={"uid": "spots-1", "creatorUid": "ALPHA-1"}
    )
    assert readonly.status_code == 403
    deleted = await cp.delete(f"{PREFIX}/op/layers", params={"uid": group_uid, "creatorUid": "CP-1"})
    assert deleted.status_code == 200
    assert [layer["uid"] for layer in data(await cp.get(f"{PREFIX}/op/layers"), "MissionLayer")] == [
        "spots-1"
    ]


async def test_map_layers(callers: Callers) -> None:
    cp = callers.cp
    body = {"name": "OSM", "type": "XYZ", "url": "https://tile.example/{z}/{x}/{y}.png", "minZoom": 0}
    added = data(
        await cp.post(f"{PREFIX}/op/maplayers", params={"creatorUid": "CP-1"}, json=body), "MapLayer"
    )
    assert added["name"] == "OSM"
    assert added["creatorUid"] == "CP-1"
    changed = {**added, "opacity": 0.5}
    assert (
        data(await cp.put(f"{PREFIX}/op/maplayers", params={"creatorUid": "CP-1"}, json=changed), "MapLayer")[
            "opacity"
        ]
        == 0.5
    )
    assert [m["uid"] for m in only(await cp.get(f"{PREFIX}/op"))["mapLayers"]] == [added["uid"]]
    nested = await cp.post(f"{PREFIX}/op/maplayers", params={"creatorUid": "CP-1"}, json={"name": {"x": 1}})
    hidden = await callers.eve.delete(f"{PREFIX}/op/maplayers/{added['uid']}", params={"creatorUid": "E-1"})
    assert (nested.status_code, hidden.status_code) == (400, 404)
    gone = await cp.delete(f"{PREFIX}/op/maplayers/{added['uid']}", params={"creatorUid": "CP-1"})
    assert gone.status_code == 200
    assert only(await cp.get(f"{PREFIX}/op"))["mapLayers"] == []


async def test_parent_and_children(callers: Callers) -> None:
    cp = callers.cp
    child = only(await cp.put(f"{PREFIX}/child", params={"group": "ops", "creatorUid": "CP-1"}))
    parent_guid = only(await cp.get(f"{PREFIX}/op"))["guid"]
    assert (await cp.put(f"{PREFIX}/child/parent/op")).status_code == 200
    children = data(await cp.get(f"{PREFIX}/op/children"), "Mission")
    assert [m["name"] for m in children] == ["child"]
    conforms(children[0], NODE_TAK_MISSION)
    assert data(await cp.get(f"{PREFIX}/child/parent"), "Mission")["name"] == "op"
    cycle = await cp.put(f"{PREFIX}/op/parent/child")
    assert cycle.status_code == 400
    assert (await cp.delete(f"{PREFIX}/child/parent")).status_code == 200
    assert data(await cp.get(f"{PREFIX}/op/children"), "Mission") == []
    by_guid = await cp.put(f"{PREFIX}/guid/{child['guid']}/parent/guid/{parent_guid}")
    assert by_guid.status_code == 200
    await callers.eve.put(f"{PREFIX}/secret", params={"group": "other", "creatorUid": "EVE-1"})
    foreign_parent = await cp.put(f"{PREFIX}/child/parent/secret")
    foreign_child = await callers.eve.put(f"{PREFIX}/child/parent/secret")
    foreign_list = await callers.eve.get(f"{PREFIX}/op/children")
    assert (foreign_parent.status_code, foreign_child.status_code, foreign_list.status_code) == (
        404,
        404,
        404,
    )


async def test_contacts_invitations_and_all_subscriptions(callers: Callers) -> None:
    cp = callers.cp
    async with TlsClients(callers.server, callers.pki) as streams:
        alpha = await streams.connect(callers.pki.add_user("alpha2", "ops"))
        eve = await streams.connect(callers.pki.add_user("eve2", "other"))
        await alpha.send(pli_xml("ALPHA-2", "Alpha"))
        await eve.send(pli_xml("EVE-2", "Eve"))
        registry = callers.server.server.context.router.registry
        await eventually(
            lambda: registry.by_uid("ALPHA-2") is not None and registry.by_uid("EVE-2") is not None
        )
        contacts = await cp.get(f"{PREFIX}/op/contacts")
        assert contacts.status_code == 200
        assert [row["uid"] for row in contacts.json()] == ["ALPHA-2"]
        assert (await callers.eve.get(f"{PREFIX}/op/contacts")).status_code == 404
        streaming = data(await cp.get("/Marti/api/subscriptions/all"), "SubscriptionInfo")
        assert [(row["clientUid"], row["callsign"], row["username"]) for row in streaming] == [
            ("ALPHA-2", "Alpha", "alpha2")
        ]
        assert {group["name"] for group in streaming[0]["groups"]} == {"ops"}
        conforms(streaming[0], NODE_TAK_SUBSCRIPTION)
        for group in streaming[0]["groups"]:
            conforms(group, NODE_TAK_GROUP)
        eves = data(await callers.eve.get("/Marti/api/subscriptions/all"), "SubscriptionInfo")
        assert [row["clientUid"] for row in eves] == ["EVE-2"]
    invite = await cp.put(
        f"{PREFIX}/op/invite/clientUid/ALPHA-9", params={"creatorUid": "CP-1", "role": "MISSION_SUBSCRIBER"}
    )
    assert invite.status_code == 200
    rows = data(await cp.get(f"{PREFIX}/op/invitations"), "MissionInvitation")
    assert [(row["invitee"], row["type"], row["role"]["type"]) for row in rows] == [
        ("ALPHA-9", "clientUid", "MISSION_SUBSCRIBER")
    ]
    for row in rows:
        conforms(row, NODE_TAK_MISSION_INVITE)
    roles = data(await cp.get(f"{PREFIX}/op/subscriptions/roles"), "MissionSubscription")
    assert roles
    for row in roles:
        conforms(row, NODE_TAK_MISSION_SUBSCRIBER)
    assert (await callers.eve.get(f"{PREFIX}/op/invitations")).status_code == 404
    await callers.alpha.put(f"{PREFIX}/op/subscription", params={"uid": "ALPHA-1"})
    refused = await callers.alpha.delete(
        f"{PREFIX}/op/invite/clientUid/ALPHA-9", params={"creatorUid": "ALPHA-1"}
    )
    hidden = await callers.eve.delete(f"{PREFIX}/op/invite/clientUid/ALPHA-9", params={"creatorUid": "EVE-1"})
    assert (refused.status_code, hidden.status_code) == (403, 404)
    removed = await cp.delete(f"{PREFIX}/op/invite/clientUid/ALPHA-9", params={"creatorUid": "CP-1"})
    assert removed.status_code == 200
    assert data(await cp.get(f"{PREFIX}/op/invitations"), "MissionInvitation") == []
    assert (
        await cp.delete(f"{PREFIX}/op/invite/clientUid/ALPHA-9", params={"creatorUid": "CP-1"})
    ).status_code == 404
    everything = data(await cp.get(f"{PREFIX}/all/subscriptions"), "MissionSubscription")
    assert everything == [{"op": "ALPHA-1"}, {"op": "CP-1"}]
    assert data(await callers.eve.get(f"{PREFIX}/all/subscriptions"), "MissionSubscription") == []


async def test_updates_and_layer_changes_are_announced_to_the_mission_only(callers: Callers) -> None:
    async with TlsClients(callers.server, callers.pki) as streams:
        alpha = await streams.connect(callers.pki.add_user("alpha2", "ops"))
        eve = await streams.connect(callers.pki.add_user("eve2", "other"))
        await alpha.send(pli_xml("ALPHA-2", "Alpha"))
        await eve.send(pli_xml("EVE-2", "Eve"))
        registry = callers.server.server.context.router.registry
        await eventually(
            lambda: registry.by_uid("ALPHA-2") is not None and registry.by_uid("EVE-2") is not None
        )
        await callers.alpha.put(f"{PREFIX}/op/subscription", params={"uid": "ALPHA-2"})
        await callers.cp.put(f"{PREFIX}/op", params={"description": "new orders", "creatorUid": "CP-1"})
        metadata = await alpha.receive(has_type("t-x-m-c-m"))
        assert 'name="op"' in metadata.detail
        await callers.cp.put(
            f"{PREFIX}/op/layers", params={"name": "Recon", "type": "GROUP", "creatorUid": "CP-1"}
        )
        await alpha.receive(has_type("t-x-m-c-h"))
        neighbour = await streams.connect(callers.pki.add_user("eve3", "other"))
        await sync(neighbour, eve)
        assert not [m for m in eve.history if m.type.startswith("t-x-m-")]


async def test_one_log_entry_by_id(callers: Callers) -> None:
    """``GET /missions/logs/entries/{id}`` (node-tak ``MissionLog.get``): TAK's list of one."""
    posted = await callers.cp.post(
        f"{PREFIX}/logs/entries", json={"content": "bridge out", "missionNames": ["op"], "creatorUid": "CP-1"}
    )
    entry_id = posted.json()["data"]["id"]
    (entry,) = data(
        await callers.cp.get(f"{PREFIX}/logs/entries/{entry_id}"), "com.bbn.marti.sync.model.LogEntry"
    )
    assert (entry["id"], entry["content"], entry["missionNames"]) == (entry_id, "bridge out", ["op"])
    hidden = await callers.eve.get(f"{PREFIX}/logs/entries/{entry_id}")
    unknown = await callers.cp.get(f"{PREFIX}/logs/entries/no-such-entry")
    assert (hidden.status_code, unknown.status_code) == (404, 404)

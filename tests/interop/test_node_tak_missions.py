"""node-tak 12's Data Sync clients (``Mission``, ``MissionLayer``, ``MissionLog``, ``MissionInvite``,
``Subscription``) against a real server over mutual TLS, each answer checked against node-tak's
own TypeBox schema where it has one; the mission token node-tak got at creation is sent back as
``MissionAuthorization`` like CloudTAK does. A caller of another group finds nothing."""

from pathlib import Path
from typing import Any

import pytest

from rallypoint.config import Settings
from tests.conftest import PkiFixture, RunningServer, TlsClients
from tests.interop.clients import eventually, pli_xml
from tests.interop.node_tak import call_all, from_bytes, requires_node_tak
from tests.settings import listening

pytestmark = requires_node_tak

NAME = "node-op"
TOKEN = {"token": {"$result": "create", "path": "token"}}
"""node-tak's ``MissionOptions``: the owner token from ``Mission.create``'s answer."""


def call(name: str, target: str, *args: Any, schema: str | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": name, "call": target, "args": list(args)}
    if schema is not None:
        entry["schema"] = schema
    return entry


CALLS = [
    call(
        "create",
        "Mission.create",
        {"name": NAME, "creatorUid": "NODE-1", "group": "ops", "description": "bridge"},
        schema="lib/api/mission#Mission",
    ),
    call("list", "Mission.list", {}, schema="lib/api/mission#TAKList_Mission"),
    call(
        "get", "Mission.get", NAME, {"changes": True, "logs": True}, TOKEN, schema="lib/api/mission#Mission"
    ),
    call("update", "Mission.update", NAME, {"description": "river"}, TOKEN, schema="lib/api/mission#Mission"),
    call(
        "subscribe",
        "Mission.subscribe",
        NAME,
        {"uid": "NODE-2"},
        schema="lib/api/mission#TAKItem_MissionSubscriber",
    ),
    call(
        "subscription",
        "Mission.subscription",
        NAME,
        {"uid": "NODE-2"},
        schema="lib/api/mission#MissionSubscriber",
    ),
    call("subscriptions", "Mission.subscriptions", NAME),
    call("roles", "Mission.subscriptionRoles", NAME, schema="lib/api/mission#TAKList_MissionSubscriber"),
    call(
        "setRole",
        "Mission.setRole",
        NAME,
        {"clientUid": "NODE-2", "username": "alice", "role": "MISSION_READONLY_SUBSCRIBER"},
        TOKEN,
    ),
    call("role", "Mission.role", NAME, TOKEN, schema="lib/api/mission#MissionRole"),
    call("attach", "Mission.attachContents", NAME, {"uids": ["ALICE-NODE"]}, TOKEN),
    call("changes", "Mission.changes", NAME, {}, TOKEN, schema="lib/api/mission#TAKList_MissionChange"),
    call("cots", "Mission.latestCots", NAME, TOKEN),
    call("contacts", "Mission.contacts", NAME, TOKEN),
    call(
        "layer",
        "MissionLayer.create",
        NAME,
        {"name": "Recon", "type": "GROUP", "creatorUid": "NODE-1"},
        TOKEN,
    ),
    call("layers", "MissionLayer.list", NAME, TOKEN, schema="lib/api/mission-layer#TAKList_MissionLayer"),
    call(
        "log",
        "MissionLog.create",
        NAME,
        {"content": "crossing at dawn", "creatorUid": "NODE-1"},
        TOKEN,
        schema="lib/api/mission-log#TAKItem_MissionLog",
    ),
    call(
        "layer1",
        "MissionLayer.get",
        NAME,
        {"$result": "layer", "path": "data.uid"},
        TOKEN,
        schema="lib/api/mission-layer#TAKItem_MissionLayer",
    ),
    call(
        "rename",
        "MissionLayer.rename",
        NAME,
        {"$result": "layer", "path": "data.uid"},
        {"name": "Scouts", "creatorUid": "NODE-1"},
        TOKEN,
    ),
    call(
        "unlayer",
        "MissionLayer.delete",
        NAME,
        {"uid": [{"$result": "layer", "path": "data.uid"}], "creatorUid": "NODE-1"},
        TOKEN,
    ),
    call("feats", "Mission.latestFeats", NAME, TOKEN),
    call("unlog", "MissionLog.delete", {"$result": "log", "path": "data.id"}, TOKEN),
    call("invite", "MissionInvite.invite", NAME, "clientUid", "NODE-9", {"creatorUid": "NODE-1"}, TOKEN),
    call("invites", "MissionInvite.get", NAME, TOKEN, schema="lib/api/mission-invite#MissionInviteList"),
    call("mine", "MissionInvite.list", "NODE-9", schema="lib/api/mission-invite#MissionInviteList"),
    call("archive", "Mission.getArchive", NAME, TOKEN),
    call("detach", "Mission.detachContents", NAME, {"uid": "ALICE-NODE"}, TOKEN),
    call("streams", "Subscription.list", {}),
    call("unsubscribe", "Mission.unsubscribe", NAME, {"uid": "NODE-2"}),
]
LAST = [
    call("delete", "Mission.delete", NAME, {"creatorUid": "NODE-1"}),
    call("gone", "Mission.get", NAME, {}),
]
"""Without the token: the creator's uid, named by the identity that created the mission, is its owner."""


@pytest.fixture
def tls_settings(tmp_path: Path) -> Settings:
    return listening(tmp_path, tls_port=0, api_tls_port=0)


async def test_node_tak_mission_clients(tls_server: RunningServer, pki: PkiFixture, tmp_path: Path) -> None:
    api = f"https://127.0.0.1:{tls_server.ports.api_tls}"
    alice, eve = pki.add_user("alice", "ops"), pki.add_user("eve", "other")
    async with TlsClients(tls_server, pki) as streams:
        device = await streams.connect(alice)
        await device.send(pli_xml("ALICE-NODE", "Alice"))
        registry = tls_server.server.context.router.registry
        await eventually(lambda: registry.by_uid("ALICE-NODE") is not None)
        results = await call_all(api, pki, alice, CALLS, tmp_path / "alice")
        outsider = await call_all(
            api,
            pki,
            eve,
            [call("list", "Mission.list", {}), call("get", "Mission.get", NAME, {})],
            tmp_path / "eve",
        )
        results |= await call_all(api, pki, alice, LAST, tmp_path / "alice-last")
    failed = {name: r for name, r in results.items() if name != "gone" and (not r["ok"] or r["schemaErrors"])}
    assert failed == {}
    assert results["create"]["value"]["token"]
    assert results["get"]["value"]["description"] == "bridge"
    assert results["update"]["value"]["description"] == "river"
    assert [m["name"] for m in results["list"]["value"]["data"]] == [NAME]
    assert results["subscriptions"]["value"]["data"] == ["NODE-1", "NODE-2"]
    roles = {row["clientUid"]: row["role"]["type"] for row in results["roles"]["value"]["data"]}
    assert roles == {"NODE-1": "MISSION_OWNER", "NODE-2": "MISSION_SUBSCRIBER"}
    assert results["role"]["value"]["type"] == "MISSION_OWNER"
    assert [u["data"] for u in results["attach"]["value"]["data"][0]["uids"]] == ["ALICE-NODE"]
    assert 'uid="ALICE-NODE"' in results["cots"]["value"]
    assert [row["uid"] for row in results["contacts"]["value"]] == ["ALICE-NODE"]
    assert [layer["name"] for layer in results["layers"]["value"]["data"]] == ["Recon"]
    assert results["log"]["value"]["data"]["content"] == "crossing at dawn"
    assert results["layer1"]["value"]["data"]["name"] == "Recon"
    assert [f["id"] for f in results["feats"]["value"]] == ["ALICE-NODE"]
    assert [row["invitee"] for row in results["invites"]["value"]["data"]] == ["NODE-9"]
    assert [row["missionName"] for row in results["mine"]["value"]["data"]] == [NAME]
    assert from_bytes(results["archive"]["value"])[:4] == b"PK\x03\x04"
    assert [row["clientUid"] for row in results["streams"]["value"]["data"]] == ["ALICE-NODE"]
    assert results["gone"]["status"] == 404
    assert outsider["list"]["value"]["data"] == []
    assert outsider["get"]["status"] == 404

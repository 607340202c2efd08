"""The rest of the Data Sync surface on the plain API port (anonymous, group ``__ANON__``):
guid routes, log entries, ``/cot``, keywords, invitations, roles, unsubscribe and delete,
with the notifications a subscribed stream client receives."""

import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from rallypoint.server.server import BoundPorts, Server
from tests.interop.clients import TakClient, eventually, has_type, marker_xml, pli_xml
from tests.settings import listening
from tests.waiting import EVENT_TIMEOUT_S

TIMEOUT = EVENT_TIMEOUT_S
POINT = {"type": "Point", "coordinates": [2.0, 1.0]}


@pytest.fixture
async def plain(tmp_path: Path) -> AsyncIterator[tuple[Server, BoundPorts, httpx.AsyncClient]]:
    settings = listening(tmp_path, api_plain_port=0)
    server = Server(settings)
    ports = await server.start()
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{ports.api_plain}", timeout=TIMEOUT
        ) as client:
            yield server, ports, client
    finally:
        await server.stop()


async def test_data_sync_round_trip(plain: tuple[Server, BoundPorts, httpx.AsyncClient]) -> None:
    server, ports, api = plain
    team = await TakClient.connect(ports.tcp, "team")
    other = await TakClient.connect(ports.tcp, "other")
    try:
        await team.send(pli_xml("TEAM-1", "Team"))
        await other.send(pli_xml("OTHER-1", "Other"))
        await other.send(marker_xml("spot-9", "OTHER-1"))
        await eventually(lambda: server.context.router.cache.get("spot-9") is not None)
        created = (await api.put("/Marti/api/missions/ops.alpha", params={"creatorUid": "CP-1"})).json()[
            "data"
        ][0]
        guid = created["guid"]
        assert created["groups"] == ["__ANON__"]
        assert (
            await api.put(f"/Marti/api/missions/guid/{guid}/subscription", params={"uid": "TEAM-1"})
        ).status_code == 201

        await api.put(
            "/Marti/api/missions/ops.alpha/keywords", params={"creatorUid": "CP-1"}, json=["river", "night"]
        )
        await team.receive(has_type("t-x-m-c-k"))
        await api.put(
            "/Marti/api/missions/ops.alpha/contents", params={"creatorUid": "CP-1"}, json={"uids": ["spot-9"]}
        )
        change = await team.receive(has_type("t-x-m-c"))
        assert 'callsign="spot-9"' in change.detail
        entry = {"content": "crossed the river", "missionNames": ["ops.alpha"], "creatorUid": "CP-1"}
        posted = await api.post("/Marti/api/missions/logs/entries", json=entry)
        assert posted.status_code == 201
        await team.receive(has_type("t-x-m-c-l"))
        objective = await api.post(
            "/api/missions/ops.alpha/objectives", json={"title": "Ford", "geometry": POINT, "uid": "CP-1"}
        )
        assert objective.status_code == 201

        uploaded = await api.post(
            "/Marti/sync/upload", params={"name": "orders.txt"}, content=b"cross at 22:00"
        )
        digest = hashlib.sha256(b"cross at 22:00").hexdigest()
        assert uploaded.status_code == 200, uploaded.text
        added = await api.put(
            "/Marti/api/missions/ops.alpha/contents", params={"creatorUid": "CP-1"}, json={"hashes": [digest]}
        )
        assert [c["data"]["hash"] for c in added.json()["data"][0]["contents"]] == [digest]
        file_change = await team.receive(lambda m: m.type == "t-x-m-c" and "contentResource" in m.detail)
        assert f"<hash>{digest}</hash>" in file_change.detail
        assert "<name>orders.txt</name>" in file_change.detail

        cot = await api.get(f"/Marti/api/missions/guid/{guid}/cot")
        assert cot.headers["content-type"].startswith("application/xml")
        assert b'uid="spot-9"' in cot.content
        assert f'uid="{objective.json()["id"]}"'.encode() in cot.content
        logs = (await api.get("/Marti/api/missions/ops.alpha/log")).json()["data"]
        assert [row["content"] for row in logs] == ["crossed the river"]
        changes = (await api.get("/Marti/api/missions/ops.alpha/changes", params={"secago": "60"})).json()[
            "data"
        ]
        assert [c["type"] for c in changes] == ["CREATE_MISSION", "ADD_CONTENT", "ADD_CONTENT", "ADD_CONTENT"]
        full = (
            await api.get("/Marti/api/missions/ops.alpha", params={"changes": "true", "logs": "true"})
        ).json()["data"][0]
        assert full["keywords"] == ["river", "night"]
        assert next(u["data"] for u in full["uids"]) == "spot-9"
        assert len(full["missionChanges"]) == 4
        assert len(full["logs"]) == 1

        invite = await api.put(
            "/Marti/api/missions/ops.alpha/invite/clientUid/OTHER-1",
            params={"creatorUid": "CP-1", "role": "MISSION_READONLY_SUBSCRIBER"},
        )
        assert invite.status_code == 200
        invitation = await other.receive(has_type("t-x-m-i"))
        assert '<role type="MISSION_READONLY_SUBSCRIBER">' in invitation.detail
        invitations = (
            await api.get("/Marti/api/missions/invitations", params={"clientUid": "OTHER-1"})
        ).json()["data"]
        assert [(row["missionName"], row["role"]["type"]) for row in invitations] == [
            ("ops.alpha", "MISSION_READONLY_SUBSCRIBER")
        ]
        assert (await api.get("/Marti/api/missions/all/invitations", params={"clientUid": "OTHER-1"})).json()[
            "data"
        ] == ["ops.alpha"]
        joined = await api.put("/Marti/api/missions/ops.alpha/subscription", params={"uid": "OTHER-1"})
        assert joined.json()["data"]["role"]["type"] == "MISSION_READONLY_SUBSCRIBER"
        role = (await api.get("/Marti/api/missions/ops.alpha/role", params={"clientUid": "OTHER-1"})).json()[
            "data"
        ]
        assert role == {"type": "MISSION_READONLY_SUBSCRIBER", "permissions": ["MISSION_READ"]}
        roles = (await api.get("/Marti/api/missions/ops.alpha/subscriptions/roles")).json()["data"]
        assert sorted(row["clientUid"] for row in roles) == ["CP-1", "OTHER-1", "TEAM-1"]
        assert (
            await api.delete("/Marti/api/missions/ops.alpha/subscription", params={"uid": "OTHER-1"})
        ).status_code == 200
        subscribed = (await api.get("/Marti/api/missions/ops.alpha/subscriptions")).json()["data"]
        assert subscribed == ["CP-1", "TEAM-1"]  # the creator is subscribed on create, as by TAK Server

        deleted = await api.delete("/Marti/api/missions/ops.alpha", params={"creatorUid": "CP-1"})
        assert deleted.status_code == 200
        await team.receive(has_type("t-x-m-d"))
        assert (await api.get("/Marti/api/missions")).json()["data"] == []
        assert (await api.get(f"/Marti/api/missions/guid/{guid}")).status_code == 404
    finally:
        await team.close()
        await other.close()

"""Missions on a real server (issue 5): Data Sync over mutual TLS, notifications on the stream,
group isolation, concurrent changes, journal replay after a restart, and hostile requests.

The subscriber is PyPI ``pytak`` on the TLS streaming port; a second client in another group
must see none of the mission's traffic. Negative checks never sleep: they follow the traffic
with a :func:`~tests.interop.clients.sync` marker the outsider does receive.
"""

import asyncio
import warnings
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from rallypoint.config import Settings
from rallypoint.server.server import Server
from tests.conftest import Credentials, PkiFixture, RunningServer, TlsClients
from tests.interop.clients import eventually, pli_xml, sync
from tests.interop.pytak_tools import pytak_tls_client, pytak_until
from tests.settings import listening
from tests.waiting import EVENT_TIMEOUT_S

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=r"The '\w+' package is required", category=UserWarning)

pytestmark = pytest.mark.filterwarnings(
    r"ignore:ssl.OP_NO_SSL\*/ssl.OP_NO_TLS\* options are deprecated:DeprecationWarning"
)
"""pytak disables TLS 1.0/1.1 through the deprecated OP_NO_TLSv1* options (its code, not ours)."""

TIMEOUT = EVENT_TIMEOUT_S
POINT = {"type": "Point", "coordinates": [11.5, 48.1]}


@pytest.fixture
def tls_settings(tmp_path: Path) -> Settings:
    return listening(tmp_path, tls_port=0, api_tls_port=0)


def https(server: RunningServer, pki: PkiFixture, credentials: Credentials) -> httpx.AsyncClient:
    assert server.ports.api_tls is not None
    return httpx.AsyncClient(
        base_url=f"https://127.0.0.1:{server.ports.api_tls}",
        verify=pki.client_context(credentials),
        timeout=TIMEOUT,
    )


def of_type(cot_type: str) -> Callable[[ET.Element], bool]:
    return lambda element: element.get("type") == cot_type


@dataclass
class Field:
    """A command post (REST over mutual TLS, group ``ops``) and credentials for a team member
    (``alpha``, ``ops``) and an outsider (``eve``, group ``other``)."""

    server: RunningServer
    pki: PkiFixture
    cp: httpx.AsyncClient
    alpha: Credentials
    eve: Credentials

    def rest(self, credentials: Credentials) -> httpx.AsyncClient:
        return https(self.server, self.pki, credentials)


@pytest.fixture
async def field(tls_server: RunningServer, pki: PkiFixture) -> AsyncIterator[Field]:
    cp = pki.add_user("cp", "ops")
    async with https(tls_server, pki, cp) as client:
        yield Field(tls_server, pki, client, pki.add_user("alpha", "ops"), pki.add_user("eve", "other"))


async def create_mission(client: httpx.AsyncClient, name: str = "op", **params: str) -> dict[str, Any]:
    response = await client.put(
        f"/Marti/api/missions/{name}", params={"creatorUid": "CP-1", "group": "ops", **params}
    )
    assert response.status_code == 201, response.text
    mission: dict[str, Any] = response.json()["data"][0]
    return mission


def details(element: ET.Element) -> ET.Element:
    found = element.find("detail")
    assert found is not None
    return found


async def test_pytak_subscriber_gets_changes_and_an_outsider_sees_nothing(field: Field) -> None:
    assert field.server.ports.tls is not None
    async with TlsClients(field.server, field.pki) as clients:
        eve = await clients.connect(field.eve)
        await eve.send(pli_xml("EVE-1", "Eve"))
        async with pytak_tls_client(
            field.server.ports.tls, field.pki.ca_file, field.alpha.certificate, field.alpha.key
        ) as alpha:
            await alpha.tx_queue.put(pli_xml("ALPHA-1", "Alpha"))
            router = field.server.server.context.router
            await eventually(lambda: router.registry.by_uid("ALPHA-1") is not None)
            created = await create_mission(field.cp, description="Bridge watch")
            await pytak_until(alpha, of_type("t-x-m-n"))
            async with field.rest(field.alpha) as alpha_rest:
                response = await alpha_rest.put(
                    "/Marti/api/missions/op/subscription", params={"uid": "ALPHA-1"}
                )
            assert response.status_code == 201
            subscription = response.json()["data"]
            assert subscription["token"]
            assert subscription["role"]["type"] == "MISSION_SUBSCRIBER"
            assert subscription["mission"]["guid"] == created["guid"]

            response = await field.cp.put(
                "/Marti/api/missions/op/contents", params={"creatorUid": "CP-1"}, json={"uids": ["marker-7"]}
            )
            assert response.status_code == 200, response.text
            change = (await pytak_until(alpha, of_type("t-x-m-c")))[-1]
            mission = details(change).find("mission")
            assert mission is not None
            assert (mission.get("type"), mission.get("name"), mission.get("guid")) == (
                "CHANGE",
                "op",
                created["guid"],
            )
            assert mission.findtext("MissionChanges/MissionChange/contentUid") == "marker-7"
            assert mission.findtext("MissionChanges/MissionChange/type") == "ADD_CONTENT"

            body = {
                "title": "Bridge",
                "description": "Hold the bridge",
                "geometry": POINT,
                "assignee": "Alpha",
            }
            response = await field.cp.post("/api/missions/op/objectives", json=body)
            assert response.status_code == 201, response.text
            objective = response.json()
            marker = (await pytak_until(alpha, of_type("b-m-p-s-p-i")))[-1]
            assert marker.get("uid") == objective["id"]
            extension = details(marker).find("__objective")
            assert extension is not None
            assert extension.get("state") == "assigned"
            assert extension.get("mission") == "op"
            change = (await pytak_until(alpha, of_type("t-x-m-c")))[-1]
            assert (
                details(change).findtext("mission/MissionChanges/MissionChange/contentUid") == objective["id"]
            )

        # the outsider saw no mission traffic, and its REST view is empty
        neighbour = await clients.connect(field.pki.add_user("eve2", "other"))
        await sync(neighbour, eve)
        assert not [m for m in eve.history if m.type.startswith("t-x-m-") or m.type == "b-m-p-s-p-i"]
        async with field.rest(field.eve) as eve_rest:
            listed = await eve_rest.get("/Marti/api/missions")
            single = await eve_rest.get("/Marti/api/missions/op")
            subscribe = await eve_rest.put("/Marti/api/missions/op/subscription", params={"uid": "EVE-1"})
        assert listed.json()["data"] == []
        assert single.status_code == 404
        assert subscribe.status_code == 404


async def test_two_clients_changing_one_mission_at_once_give_one_consistent_log(field: Field) -> None:
    await create_mission(field.cp)
    async with field.rest(field.alpha) as alpha:

        async def writer(client: httpx.AsyncClient, who: str) -> list[int]:
            statuses = []
            for n in range(15):
                response = await client.put(
                    "/Marti/api/missions/op/keywords", params={"creatorUid": who}, json=[f"{who}-{n}"]
                )
                statuses.append(response.status_code)
                response = await client.put(
                    "/Marti/api/missions/op/contents",
                    params={"creatorUid": who},
                    json={"uids": [f"{who}-item-{n}"]},
                )
                statuses.append(response.status_code)
            return statuses

        results = await asyncio.gather(writer(field.cp, "CP-1"), writer(alpha, "ALPHA-1"))
    assert {status for statuses in results for status in statuses} == {200}
    mission = (await field.cp.get("/api/missions/op")).json()
    log = mission["changeLog"]
    ids = [change["id"] for change in log]
    assert ids == sorted(set(ids))
    assert len(log) == 2 + 4 * 15  # created, the creator subscribed, then the writes
    assert sorted(item["data"] for item in mission["uids"]) == sorted(
        f"{who}-item-{n}" for who in ("CP-1", "ALPHA-1") for n in range(15)
    )
    last_keywords = [c for c in log if c["type"] == "KEYWORDS"][-1]
    assert mission["keywords"] == [last_keywords["summary"].removeprefix("keywords: ")]
    tak = (await field.cp.get("/Marti/api/missions/op/changes")).json()["data"]
    assert [c["contentUid"] for c in tak if c["type"] == "ADD_CONTENT"] == [
        c["contentUid"] for c in log if c["type"] == "ADD_CONTENT"
    ]


async def test_hostile_requests_get_clear_4xx(field: Field) -> None:
    await create_mission(field.cp, password="s3cret", defaultRole="MISSION_READONLY_SUBSCRIBER")
    cp = field.cp
    cases: list[tuple[httpx.Response, int]] = [
        (
            await cp.put(
                "/Marti/api/missions/op/keywords", params={"creatorUid": "CP-1"}, content=b"{not json"
            ),
            400,
        ),
        (
            await cp.put(
                "/Marti/api/missions/op/contents", params={"creatorUid": "CP-1"}, content=b"x" * 300_000
            ),
            413,
        ),
        (
            await cp.put(
                "/Marti/api/missions/op/contents", params={"creatorUid": "CP-1"}, json={"hashes": [5]}
            ),
            400,
        ),
        (
            await cp.put(
                "/Marti/api/missions/op/contents", params={"creatorUid": "CP-1"}, json={"hashes": ["ab"]}
            ),
            404,
        ),
        (await cp.get("/Marti/api/missions/nowhere"), 404),
        (await cp.put("/Marti/api/missions/op/subscription"), 400),
        (await cp.put("/Marti/api/missions/x", params={"group": "other"}), 403),
        (await cp.put("/Marti/api/missions/y", params={"defaultRole": "KING"}), 400),
        (
            await cp.put(
                "/Marti/api/missions/op/role", params={"creatorUid": "CP-1", "clientUid": "A", "role": "X"}
            ),
            400,
        ),
        (await cp.post("/api/missions", json={"name": "a/b"}), 400),
        (await cp.post("/api/missions", json=["not", "an", "object"]), 400),
        (
            await cp.post("/api/missions/op/objectives", json={"title": "t", "geometry": {"type": "Point"}}),
            400,
        ),
        (await cp.post("/api/objectives/nope/status", json={"state": "done"}), 404),
    ]
    async with field.rest(field.alpha) as alpha:
        cases += [
            (await alpha.get("/Marti/api/missions/op"), 403),
            (await alpha.get("/Marti/api/missions/op", params={"password": "wrong"}), 403),
            (
                await alpha.put(
                    "/Marti/api/missions/op/subscription", params={"uid": "A-1", "password": "no"}
                ),
                403,
            ),
        ]
        ok = await alpha.put(
            "/Marti/api/missions/op/subscription", params={"uid": "A-1", "password": "s3cret"}
        )
        token = ok.json()["data"]["token"]
        readable = await alpha.get(
            "/Marti/api/missions/op", headers={"MissionAuthorization": f"Bearer {token}"}
        )
        cases += [
            (ok, 201),
            (readable, 200),
            (
                await alpha.put("/Marti/api/missions/op/keywords", params={"creatorUid": "A-1"}, json=["x"]),
                403,
            ),
            (await alpha.delete("/Marti/api/missions/op", params={"creatorUid": "A-1"}), 403),
        ]
    async with field.rest(field.eve) as eve:
        cases.append((await eve.delete("/Marti/api/missions/op", params={"creatorUid": "CP-1"}), 404))
    objective = await cp.post(
        "/api/missions/op/objectives", json={"title": "t", "geometry": POINT, "uid": "CP-1"}
    )
    cases.append(
        (
            await cp.post(
                f"/api/objectives/{objective.json()['id']}/status", json={"state": "done", "uid": "CP-1"}
            ),
            409,
        )
    )
    for response, status in cases:
        assert response.status_code == status, (response.request.method, response.request.url, response.text)
        if status >= 400:
            assert response.json()["error"]


async def test_missions_survive_a_restart(tmp_path: Path) -> None:
    settings = listening(tmp_path, api_plain_port=0)
    server = Server(settings)
    ports = await server.start()
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{ports.api_plain}", timeout=TIMEOUT
        ) as client:
            created = (
                await client.post("/api/missions", json={"name": "op", "uid": "CP-1", "password": "pw"})
            ).json()
            await client.post("/api/missions/op/subscribe", json={"uid": "TEAM-1", "password": "pw"})
            body = {"title": "Hill", "geometry": POINT, "assignee": "TEAM-1", "uid": "CP-1"}
            objective = (await client.post("/api/missions/op/objectives", json=body)).json()
            template = (
                await client.post(
                    "/api/missions/op/checklists", json={"name": "Pre", "items": ["a", "b"], "uid": "CP-1"}
                )
            ).json()
            started = await client.post(
                f"/api/missions/op/checklists/{template['id']}/start", json={"uid": "CP-1"}
            )
            item = await client.post(
                f"/api/missions/op/checklists/{started.json()['id']}/items/1",
                json={"status": "done", "uid": "TEAM-1"},
            )
            assert item.status_code == 200, item.text
            before = (await client.get("/api/missions/op", params={"password": "pw"})).json()
    finally:
        await server.stop()
    server = Server(settings)
    ports = await server.start()
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{ports.api_plain}", timeout=TIMEOUT
        ) as client:
            after = (await client.get("/api/missions/op", params={"password": "pw"})).json()
            refused = await client.get("/api/missions/op", params={"password": "nope"})
    finally:
        await server.stop()
    assert after == before
    assert after["guid"] == created["guid"]
    assert after["subscribers"] == ["TEAM-1"]
    assert [o["id"] for o in after["objectives"]] == [objective["id"]]
    assert [c["items"][0]["status"] for c in after["checklists"]] == ["pending", "done"]
    assert refused.status_code == 403

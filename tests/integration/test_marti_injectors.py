"""TAK Server's CoT injectors (node-tak's ``Injectors.list/get/create/delete``) on a real server
over mutual TLS: each caller sees and deletes only its own, pytak's event posts are still
routed, and hostile pairs are refused."""

from pathlib import Path

import pytest

from rallypoint.config import Settings
from rallypoint.http.marti.injectors import MAX_INJECTORS_PER_USER
from tests.conftest import PkiFixture, RunningServer
from tests.integration.test_marti_api import https
from tests.settings import listening

PATH = "/Marti/api/injectors/cot/uid"


@pytest.fixture
def tls_settings(tmp_path: Path) -> Settings:
    return listening(tmp_path, api_tls_port=0)


def pairs(answer: dict[str, object]) -> list[tuple[str, str]]:
    data = answer["data"]
    assert isinstance(data, list)
    return [(row["uid"], row["toInject"]) for row in data]


async def test_injectors_are_listed_and_deleted_by_their_owner_only(
    tls_server: RunningServer, pki: PkiFixture
) -> None:
    alice, bob, eve = pki.add_user("alice", "ops"), pki.add_user("bob", "ops"), pki.add_user("eve", "other")
    async with https(tls_server, pki, alice) as client:
        created = await client.post(PATH, json={"uid": "ANDROID-cam", "toInject": "camera one"})
        again = await client.post(PATH, json={"uid": "ANDROID-cam", "toInject": "camera one"})
        await client.post(PATH, json={"uid": "ANDROID-cam", "toInject": "north gate"})
        await client.post(PATH, json={"uid": "ANDROID-2", "toInject": "spare"})
        listed = await client.get(PATH)
        one_uid = await client.get(f"{PATH}/ANDROID-cam")
    async with https(tls_server, pki, bob) as client:
        bob_list = await client.get(PATH)
        bob_uid = await client.get(f"{PATH}/ANDROID-cam")
        bob_delete = await client.delete(PATH, params={"uid": "ANDROID-cam"})
    async with https(tls_server, pki, eve) as client:
        eve_delete = await client.delete(PATH, params={"uid": "ANDROID-cam", "toInject": "camera one"})
        eve_list = await client.get(PATH)
    async with https(tls_server, pki, alice) as client:
        one_pair = await client.delete(PATH, params={"uid": "ANDROID-cam", "toInject": "north gate"})
        whole_uid = await client.delete(PATH, params={"uid": "ANDROID-cam"})
        missing = await client.delete(PATH, params={"uid": "ANDROID-cam"})
        left = await client.get(PATH)
    assert created.status_code == 200
    assert created.json()["type"] == "com.bbn.marti.injector.UidCotTagInjector"
    assert pairs(again.json()) == [("ANDROID-cam", "camera one")], "the same pair twice is one injector"
    assert pairs(listed.json()) == [
        ("ANDROID-cam", "camera one"),
        ("ANDROID-cam", "north gate"),
        ("ANDROID-2", "spare"),
    ]
    assert pairs(one_uid.json()) == [("ANDROID-cam", "camera one"), ("ANDROID-cam", "north gate")]
    assert (pairs(bob_list.json()), pairs(bob_uid.json()), pairs(eve_list.json())) == ([], [], [])
    assert (bob_delete.status_code, eve_delete.status_code) == (404, 404)
    assert pairs(one_pair.json()) == [("ANDROID-cam", "camera one"), ("ANDROID-2", "spare")]
    assert pairs(whole_uid.json()) == [("ANDROID-2", "spare")]
    assert missing.status_code == 404
    assert pairs(left.json()) == [("ANDROID-2", "spare")]


async def test_hostile_injectors_are_refused(tls_server: RunningServer, pki: PkiFixture) -> None:
    mallory = pki.add_user("mallory", "ops")
    async with https(tls_server, pki, mallory) as client:
        statuses = [
            (await client.post(PATH, json=body)).status_code
            for body in (
                {"uid": "x<script>", "toInject": "a"},
                {"uid": "x\"'", "toInject": "a"},
                {"uid": "", "toInject": "a"},
                {"uid": "x" * 300, "toInject": "a"},
                {"uid": ["x"], "toInject": "a"},
                {"uid": "x", "toInject": "a > b"},
                {"uid": "x", "toInject": "y" * 5000},
                {"uid": "x", "toInject": "<remarks>not an event</remarks>"},
            )
        ]
        no_uid = await client.delete(PATH)
        filled = [
            (await client.post(PATH, json={"uid": f"u{n}", "toInject": "t"})).status_code
            for n in range(MAX_INJECTORS_PER_USER + 1)
        ]
        kept = await client.get(PATH)
    assert statuses == [400] * 8
    assert no_uid.status_code == 400
    assert filled == [200] * MAX_INJECTORS_PER_USER + [429]
    assert len(kept.json()["data"]) == MAX_INJECTORS_PER_USER

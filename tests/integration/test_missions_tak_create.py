"""Creating and updating missions the way TAK's own clients do (issue 14), over mutual TLS.

The requests are node-tak 12's ``Mission.create`` (``POST``, ``group`` comma-joined,
``allowDupe=false``) and ``Mission.update`` (``POST`` on the existing name with every field
and repeated ``group``), ATAK's ``PUT …?group=__ANON__``, and TAK Server's expiration call.
Another group's mission stays invisible (404) whatever is sent.
"""

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from rallypoint.config import Settings
from tests.conftest import PkiFixture, RunningServer
from tests.integration.tak_missions import PREFIX, Callers, api_settings, only, open_callers
from tests.interop.clients import eventually


@pytest.fixture
def tls_settings(tmp_path: Path) -> Settings:
    return api_settings(tmp_path)


@pytest.fixture
async def callers(tls_server: RunningServer, pki: PkiFixture) -> AsyncIterator[Callers]:
    async with open_callers(tls_server, pki) as opened:
        yield opened


async def test_anon_group_maps_to_the_callers_groups_and_comma_joined_groups_count_as_many(
    callers: Callers,
) -> None:
    anon = await callers.cp.put(f"{PREFIX}/anon-op", params={"creatorUid": "CP-1", "group": "__ANON__"})
    joined = await callers.cp.post(
        f"{PREFIX}/joined-op",
        params={"group": "ops,intel", "creatorUid": "CP-1", "description": "", "allowDupe": "false"},
    )
    repeated = await callers.cp.put(
        f"{PREFIX}/repeated-op", params=[("group", "ops"), ("group", "intel"), ("creatorUid", "CP-1")]
    )
    outside = await callers.alpha.put(f"{PREFIX}/stolen", params={"creatorUid": "A-1", "group": "ops,other"})
    assert (anon.status_code, joined.status_code, repeated.status_code) == (201, 201, 201)
    assert only(anon)["groups"] == ["intel", "ops"]
    assert only(joined)["groups"] == only(repeated)["groups"] == ["intel", "ops"]
    assert outside.status_code == 403
    assert (await callers.eve.get(f"{PREFIX}/anon-op")).status_code == 404


async def test_the_creator_is_subscribed_as_owner_with_a_token(callers: Callers) -> None:
    created = await callers.cp.post(f"{PREFIX}/op", params={"group": "ops", "creatorUid": "CP-1"})
    mission = only(created)
    assert created.status_code == 201
    token = mission["token"]
    assert mission["ownerRole"]["type"] == "MISSION_OWNER"
    own = await callers.cp.get(f"{PREFIX}/op/subscription", params={"uid": "CP-1"})
    assert own.json()["data"]["role"]["type"] == "MISSION_OWNER"
    assert (await callers.cp.get(f"{PREFIX}/op/subscriptions")).json()["data"] == ["CP-1"]
    # node-tak then sets keywords with that token as MissionAuthorization
    keywords = await callers.cp.put(
        f"{PREFIX}/op/keywords", json=["river"], headers={"MissionAuthorization": f"Bearer {token}"}
    )
    assert keywords.status_code == 200
    assert only(keywords)["keywords"] == ["river"]
    # the token stands for CP-1 only on this mission, and only for its holder's identity
    stolen = await callers.eve.delete(f"{PREFIX}/op/subscription", params={"uid": "CP-1"})
    mallory = await callers.alpha.delete(f"{PREFIX}/op/subscription", params={"uid": "CP-1"})
    assert (stolen.status_code, mallory.status_code) == (404, 403)
    gone = await callers.cp.delete(f"{PREFIX}/op/subscription", params={"uid": "CP-1"})
    assert gone.status_code == 200
    assert (await callers.cp.get(f"{PREFIX}/op/subscriptions")).json()["data"] == []


async def test_create_on_an_existing_mission_updates_it_for_a_writer_only(callers: Callers) -> None:
    await callers.cp.put(f"{PREFIX}/op", params={"group": "ops", "creatorUid": "CP-1", "chatRoom": "net"})
    await callers.alpha.put(f"{PREFIX}/op/subscription", params={"uid": "ALPHA-1"})
    # node-tak Mission.update: POST with every field, groups repeated, allowDupe=false
    update = [
        ("group", "ops"),
        ("creatorUid", "CP-1"),
        ("description", "bridge watch"),
        ("chatRoom", "net"),
        ("bbox", "1,2,3,4"),
        ("tool", "public"),
        ("expiration", "-1"),
        ("inviteOnly", "false"),
        ("allowDupe", "false"),
    ]
    updated = await callers.cp.post(f"{PREFIX}/op", params=update)
    assert updated.status_code == 200, updated.text
    assert only(updated)["description"] == "bridge watch"
    assert only(updated)["bbox"] == "1,2,3,4"
    assert only(updated)["chatRoom"] == "net"
    atak = await callers.alpha.put(
        f"{PREFIX}/op", params={"description": "by alpha", "creatorUid": "ALPHA-1"}
    )
    assert atak.status_code == 200
    assert only(atak)["description"] == "by alpha"
    regroup = await callers.alpha.put(
        f"{PREFIX}/op", params={"group": "ops,intel", "creatorUid": "ALPHA-1", "allowGroupChange": "true"}
    )
    assert regroup.status_code == 403  # a subscriber may not move the mission into other groups
    owner = await callers.cp.put(
        f"{PREFIX}/op", params={"group": "ops,intel", "creatorUid": "CP-1", "allowGroupChange": "true"}
    )
    assert only(owner)["groups"] == ["intel", "ops"]
    hidden = await callers.eve.put(f"{PREFIX}/op", params={"description": "mine", "creatorUid": "EVE-1"})
    hidden_dupe = await callers.eve.post(f"{PREFIX}/op", params={"creatorUid": "EVE-1", "allowDupe": "true"})
    assert hidden_dupe.status_code == 404
    dupe = await callers.cp.post(f"{PREFIX}/op", params={"creatorUid": "CP-1", "allowDupe": "true"})
    assert (hidden.status_code, dupe.status_code) == (404, 409)
    assert only(await callers.cp.get(f"{PREFIX}/op"))["description"] == "by alpha"


async def test_expiration_is_answered_and_honoured(callers: Callers) -> None:
    later = int(time.time()) + 3600
    created = await callers.cp.put(
        f"{PREFIX}/op", params={"group": "ops", "creatorUid": "CP-1", "expiration": str(later)}
    )
    assert only(created)["expiration"] == later
    await callers.alpha.put(f"{PREFIX}/op/subscription", params={"uid": "ALPHA-1"})
    refused = await callers.alpha.put(f"{PREFIX}/op/expiration", params={"expiration": "1"})
    hidden = await callers.eve.put(f"{PREFIX}/op/expiration", params={"expiration": "1"})
    assert (refused.status_code, hidden.status_code) == (403, 404)
    never = await callers.cp.put(f"{PREFIX}/op/expiration", params={"expiration": "-1"})
    assert only(never)["expiration"] == -1
    past = int(time.time()) - 1
    expired = await callers.cp.put(f"{PREFIX}/op/expiration", params={"expiration": str(past)})
    assert expired.status_code == 200
    assert (await callers.cp.get(f"{PREFIX}/op")).status_code == 404
    await eventually(lambda: callers.missions().book.by_name("op") is None)  # deleted by the server's tick
    recreated = await callers.cp.put(f"{PREFIX}/op", params={"group": "ops", "creatorUid": "CP-1"})
    assert recreated.status_code == 201


async def test_delete_by_guid_as_node_tak_sends_it(callers: Callers) -> None:
    guid = only(await callers.cp.put(f"{PREFIX}/op", params={"group": "ops", "creatorUid": "CP-1"}))["guid"]
    hidden = await callers.eve.delete(PREFIX, params={"guid": guid, "creatorUid": "EVE-1"})
    await callers.alpha.put(f"{PREFIX}/op/subscription", params={"uid": "ALPHA-1"})
    refused = await callers.alpha.delete(PREFIX, params={"guid": guid, "creatorUid": "ALPHA-1"})
    assert (hidden.status_code, refused.status_code) == (404, 403)
    deleted = await callers.cp.delete(PREFIX, params={"guid": guid, "creatorUid": "CP-1"})
    assert only(deleted)["name"] == "op"
    assert (await callers.cp.get(f"{PREFIX}/guid/{guid}")).status_code == 404


async def test_naming_the_creators_uid_gives_no_power_over_the_new_calls(callers: Callers) -> None:
    created = only(await callers.cp.put(f"{PREFIX}/op", params={"group": "ops", "creatorUid": "CP-1"}))
    as_creator = {"creatorUid": "CP-1"}
    attempts = [
        await callers.alpha.put(f"{PREFIX}/op/expiration", params={**as_creator, "expiration": "1"}),
        await callers.alpha.delete(PREFIX, params={**as_creator, "guid": created["guid"]}),
        await callers.alpha.put(f"{PREFIX}/op", params={**as_creator, "description": "mine"}),
        await callers.alpha.put(f"{PREFIX}/op/layers", params={**as_creator, "name": "x", "type": "GROUP"}),
        await callers.alpha.get(f"{PREFIX}/op/archive", params={"clientUid": "CP-1"}),
    ]
    assert [response.status_code for response in attempts] == [403] * 5
    assert all("belongs to another identity" in response.json()["error"] for response in attempts)
    mission = only(await callers.cp.get(f"{PREFIX}/op"))
    assert (mission["description"], mission["expiration"]) == ("", -1)

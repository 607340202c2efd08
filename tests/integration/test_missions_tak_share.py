"""Copy, data feeds, bulk invitations and send (TAK Server's MissionApi, issue 14), with the
requests TAK clients send, over mutual TLS. Another group's caller gets 404 for each, a caller
without the permission 403, a bad request 400."""

import io
import re
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from rallypoint.config import Settings
from tests.conftest import PkiFixture, RunningServer, TlsClients
from tests.integration.tak_missions import (
    NODE_TAK_MISSION_INVITE,
    PREFIX,
    Callers,
    conforms,
    only,
    open_callers,
)
from tests.interop.clients import eventually, has_type, pli_xml, sync
from tests.settings import listening

FEEDS = """
[[feeds]]
name = "ops-tracks"
kind = "geojson"
groups = ["ops"]

[[feeds]]
name = "other-tracks"
kind = "geojson"
groups = ["other"]
"""
OWNER_ROLE = {"type": "MISSION_OWNER"}


@pytest.fixture
def tls_settings(tmp_path: Path) -> Settings:
    feeds = tmp_path / "feeds.toml"
    feeds.write_text(FEEDS)
    return listening(tmp_path, tls_port=0, api_tls_port=0, feeds_file=str(feeds))


@pytest.fixture
async def callers(tls_server: RunningServer, pki: PkiFixture) -> AsyncIterator[Callers]:
    async with open_callers(tls_server, pki) as opened:
        created = await opened.cp.put(f"{PREFIX}/op", params={"group": "ops", "creatorUid": "CP-1"})
        assert created.status_code == 201, created.text
        yield opened


def listed(response: httpx.Response, type_name: str) -> Any:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["type"] == type_name
    return body["data"]


async def test_copy_takes_the_contents_and_makes_the_caller_owner(callers: Callers) -> None:
    cp = callers.cp
    await cp.put(f"{PREFIX}/op/keywords", params={"creatorUid": "CP-1"}, json=["recon"])
    await cp.put(f"{PREFIX}/op/contents", params={"creatorUid": "CP-1"}, json={"uids": ["spot-1"]})
    layer = {"name": "OSM", "type": "XYZ", "url": "https://tile.example/{z}/{x}/{y}.png"}
    await cp.post(f"{PREFIX}/op/maplayers", params={"creatorUid": "CP-1"}, json=layer)
    await cp.post(f"{PREFIX}/op/feed", params={"creatorUid": "CP-1", "dataFeedUid": "ops-tracks"})
    log = {"content": "moved to phase 2", "missionNames": ["op"], "creatorUid": "CP-1"}
    assert (await cp.post(f"{PREFIX}/logs/entries", json=log)).status_code == 201
    copied = await callers.alpha.put(
        f"{PREFIX}/op/copy", params={"creatorUid": "ALPHA-1", "copyName": "op-2", "copyPath": "drills"}
    )
    assert copied.status_code == 201, copied.text
    mission = copied.json()["data"][0]
    assert mission["name"] == "op-2"
    assert mission["creatorUid"] == "ALPHA-1"
    assert mission["token"]
    assert mission["keywords"] == ["recon"]
    assert mission["path"] == "drills"
    assert [u["data"] for u in mission["uids"]] == ["spot-1"]
    assert [m["name"] for m in mission["mapLayers"]] == ["OSM"]
    assert [f["dataFeedUid"] for f in mission["feeds"]] == ["ops-tracks"]
    fetched = only(await callers.alpha.get(f"{PREFIX}/op-2", params={"logs": "true"}))
    assert [entry["content"] for entry in fetched["logs"]] == ["moved to phase 2"]
    roles = listed(await callers.alpha.get(f"{PREFIX}/op-2/subscriptions/roles"), "MissionSubscription")
    assert [(row["clientUid"], row["role"]["type"]) for row in roles] == [("ALPHA-1", "MISSION_OWNER")]
    original = only(await cp.get(f"{PREFIX}/op"))
    assert original["creatorUid"] == "CP-1"
    assert [u["data"] for u in original["uids"]] == ["spot-1"]


async def test_copy_stays_in_the_callers_groups_and_refuses_what_tak_refuses(callers: Callers) -> None:
    cp = callers.cp
    await cp.put(f"{PREFIX}/joint", params={"group": ["ops", "intel"], "creatorUid": "CP-1"})
    copied = await callers.alpha.put(f"{PREFIX}/joint/copy", params={"creatorUid": "A-1", "copyName": "mine"})
    assert copied.json()["data"][0]["groups"] == ["ops"]
    hidden = await callers.eve.put(f"{PREFIX}/op/copy", params={"creatorUid": "E-1", "copyName": "stolen"})
    exists = await cp.put(f"{PREFIX}/op/copy", params={"creatorUid": "CP-1", "copyName": "mine"})
    no_name = await cp.put(f"{PREFIX}/op/copy", params={"creatorUid": "CP-1"})
    no_uid = await cp.put(f"{PREFIX}/op/copy", params={"copyName": "x"})
    bad_role = await cp.put(
        f"{PREFIX}/op/copy", params={"creatorUid": "CP-1", "copyName": "y", "defaultRole": "ADMIN"}
    )
    assert (hidden.status_code, exists.status_code, no_name.status_code) == (404, 400, 400)
    assert (no_uid.status_code, bad_role.status_code) == (400, 400)
    await cp.put(f"{PREFIX}/locked", params={"group": "ops", "creatorUid": "CP-1", "password": "s3cret"})
    locked = await callers.alpha.put(
        f"{PREFIX}/locked/copy", params={"creatorUid": "A-1", "copyName": "z", "password": "s3cret"}
    )
    assert locked.status_code == 403, "password= is the copy's: the source wants a role or a token"
    relocked = await cp.put(
        f"{PREFIX}/locked/copy", params={"creatorUid": "CP-1", "copyName": "locked-2", "password": "other"}
    )
    assert relocked.json()["data"][0]["passwordProtected"] is True
    assert (await callers.eve.get(f"{PREFIX}/stolen")).status_code == 404
    assert (await cp.get(f"{PREFIX}/z")).status_code == 404


async def test_feeds_attach_the_servers_data_feeds_with_filters(callers: Callers) -> None:
    cp = callers.cp
    added = await cp.post(
        f"{PREFIX}/op/feed",
        params={
            "creatorUid": "CP-1",
            "dataFeedUid": "ops-tracks",
            "filterPolygon": ["1,2", "1,3", "2,3"],
            "filterCotTypes": '["a-f-G","a-f-A"]',
            "filterCallsign": "Eagle",
        },
    )
    assert added.status_code == 200, added.text
    (feed,) = only(await cp.get(f"{PREFIX}/op"))["feeds"]
    assert feed == {
        "uid": feed["uid"],
        "dataFeedUid": "ops-tracks",
        "name": "ops-tracks",
        "filterPolygon": "1 2,1 3,2 3,1 2",
        "filterCotTypesSerialized": '["a-f-A","a-f-G"]',
        "filterCallsign": "Eagle",
    }
    foreign_feed = await cp.post(
        f"{PREFIX}/op/feed", params={"creatorUid": "CP-1", "dataFeedUid": "other-tracks"}
    )
    unknown = await cp.post(f"{PREFIX}/op/feed", params={"creatorUid": "CP-1", "dataFeedUid": "nope"})
    hidden = await callers.eve.post(
        f"{PREFIX}/op/feed", params={"creatorUid": "E-1", "dataFeedUid": "ops-tracks"}
    )
    assert (foreign_feed.status_code, unknown.status_code, hidden.status_code) == (404, 404, 404)
    for bad in (
        {"filterCotTypes": "not json"},
        {"filterCotTypes": '{"a": 1}'},
        {"filterPolygon": ["1,2", "3,4"]},
        {"filterPolygon": ["1,2", "x,4", "5,6"]},
    ):
        refused = await cp.post(
            f"{PREFIX}/op/feed", params={"creatorUid": "CP-1", "dataFeedUid": "ops-tracks", **bad}
        )
        assert refused.status_code == 400, bad
    assert (await cp.post(f"{PREFIX}/op/feed", params={"creatorUid": "CP-1"})).status_code == 400
    await callers.alpha.put(f"{PREFIX}/op/subscription", params={"uid": "ALPHA-1"})
    await cp.put(
        f"{PREFIX}/op/role",
        params={"clientUid": "ALPHA-1", "role": "MISSION_READONLY_SUBSCRIBER", "creatorUid": "CP-1"},
    )
    readonly = await callers.alpha.delete(f"{PREFIX}/op/feed/{feed['uid']}", params={"creatorUid": "ALPHA-1"})
    eve_delete = await callers.eve.delete(f"{PREFIX}/op/feed/{feed['uid']}", params={"creatorUid": "E-1"})
    assert (readonly.status_code, eve_delete.status_code) == (403, 404)
    removed = await cp.delete(f"{PREFIX}/op/feed/{feed['uid']}", params={"creatorUid": "CP-1"})
    again = await cp.delete(f"{PREFIX}/op/feed/{feed['uid']}", params={"creatorUid": "CP-1"})
    assert (removed.status_code, again.status_code) == (200, 404)
    assert only(await cp.get(f"{PREFIX}/op"))["feeds"] == []


async def test_bulk_invitations_reach_the_invitee_and_hand_out_only_held_roles(callers: Callers) -> None:
    cp = callers.cp
    async with TlsClients(callers.server, callers.pki) as streams:
        invitee = await streams.connect(callers.pki.add_user("alpha2", "ops"))
        await invitee.send(pli_xml("ALPHA-2", "Alpha"))
        registry = callers.server.server.context.router.registry
        await eventually(lambda: registry.by_uid("ALPHA-2") is not None)
        body = [
            {"type": "clientUid", "invitee": "ALPHA-2", "role": {"type": "MISSION_SUBSCRIBER"}},
            {"type": "userName", "invitee": "bravo"},
        ]
        sent = await cp.post(f"{PREFIX}/op/invite", params={"creatorUid": "CP-1"}, json=body)
        assert sent.status_code == 200, sent.text
        notice = await invitee.receive(has_type("t-x-m-i"))
        assert 'name="op"' in notice.detail
    rows = listed(await cp.get(f"{PREFIX}/op/invitations"), "MissionInvitation")
    assert [(r["type"], r["invitee"], r["role"]["type"]) for r in rows] == [
        ("clientUid", "ALPHA-2", "MISSION_SUBSCRIBER"),
        ("userName", "bravo", "MISSION_SUBSCRIBER"),
    ]
    for row in rows:
        conforms(row, NODE_TAK_MISSION_INVITE)
    legacy = await cp.post(f"{PREFIX}/op/invite", params={"creatorUid": "CP-1", "contacts": ["C-1", "C-2"]})
    assert legacy.status_code == 200
    invitees = [r["invitee"] for r in listed(await cp.get(f"{PREFIX}/op/invitations"), "MissionInvitation")]
    assert invitees[-2:] == ["C-1", "C-2"]
    owner = [{"type": "clientUid", "invitee": "X-1", "role": OWNER_ROLE}]
    beyond = await callers.alpha.post(f"{PREFIX}/op/invite", params={"creatorUid": "ALPHA-1"}, json=owner)
    within = await callers.alpha.post(
        f"{PREFIX}/op/invite",
        params={"creatorUid": "ALPHA-1"},
        json=[{"type": "clientUid", "invitee": "X-2"}],
    )
    hidden = await callers.eve.post(f"{PREFIX}/op/invite", params={"creatorUid": "E-1"}, json=owner)
    assert (beyond.status_code, within.status_code, hidden.status_code) == (403, 200, 404)
    readonly = [{"type": "clientUid", "invitee": "X-3", "role": {"type": "MISSION_READONLY_SUBSCRIBER"}}]
    below_default = await cp.post(f"{PREFIX}/op/invite", params={"creatorUid": "CP-1"}, json=readonly)
    assert below_default.status_code == 403
    for bad in (
        [{"invitee": "X-4"}],
        [{"type": "clientUid"}],
        {"type": "clientUid"},
        [],
        [{"type": "x", "invitee": "y"}],
    ):
        refused = await cp.post(f"{PREFIX}/op/invite", params={"creatorUid": "CP-1"}, json=bad)
        assert refused.status_code == 400, bad
    assert (await cp.post(f"{PREFIX}/op/invite", params={"creatorUid": "CP-1"})).status_code == 400
    assert "X-1" not in [
        r["invitee"] for r in listed(await cp.get(f"{PREFIX}/op/invitations"), "MissionInvitation")
    ]


async def test_send_offers_the_archive_to_the_named_devices_of_the_callers_groups(callers: Callers) -> None:
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
        await cp.put(f"{PREFIX}/op/contents", params={"creatorUid": "CP-1"}, json={"uids": ["ALPHA-2"]})
        sent = await cp.post(f"{PREFIX}/op/send", params={"contacts": ["ALPHA-2", "EVE-2"]})
        assert only(sent)["name"] == "op"
        offer = await alpha.receive(has_type("b-f-t-r"))
        digest = re.search(r'sha256="([0-9a-f]{64})"', offer.detail)
        assert digest is not None
        assert offer.uid == digest.group(1)
        assert 'filename="op.zip"' in offer.detail
        neighbour = await streams.connect(callers.pki.add_user("eve3", "other"))
        await sync(neighbour, eve)
        assert not [m for m in eve.history if m.type == "b-f-t-r"]
    download = await cp.get("/Marti/sync/content", params={"hash": offer.uid})
    assert download.status_code == 200
    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        assert "MANIFEST/manifest.xml" in archive.namelist()
        assert "ALPHA-2/ALPHA-2.cot" in archive.namelist()
    assert (await callers.eve.get("/Marti/sync/content", params={"hash": offer.uid})).status_code == 404
    hidden = await callers.eve.post(f"{PREFIX}/op/send", params={"contacts": "EVE-2"})
    empty = await cp.post(f"{PREFIX}/op/send")
    assert (hidden.status_code, empty.status_code) == (404, 400)


async def test_item_keywords_for_map_items_and_files(callers: Callers) -> None:
    cp = callers.cp
    stored = await cp.post(
        "/Marti/sync/upload",
        params={"name": "orders.txt", "creatorUid": "CP-1"},
        content=b"phase 2\n",
        headers={"content-type": "text/plain"},
    )
    digest = stored.json()["Hash"]
    body = {"hashes": [digest], "uids": ["spot-1"]}
    await cp.put(f"{PREFIX}/op/contents", params={"creatorUid": "CP-1"}, json=body)
    for path in (f"{PREFIX}/op/uid/spot-1/keywords", f"{PREFIX}/op/content/{digest}/keywords"):
        answer = await cp.put(path, params={"creatorUid": "CP-1"}, json=["bridge", "night"])
        assert answer.status_code == 200, answer.text
    mission = only(await cp.get(f"{PREFIX}/op"))
    assert mission["uids"][0]["keywords"] == ["bridge", "night"]
    assert mission["contents"][0]["keywords"] == ["bridge", "night"]
    empty = await cp.put(f"{PREFIX}/op/uid/spot-1/keywords", params={"creatorUid": "CP-1"}, json=[])
    not_a_list = await cp.put(
        f"{PREFIX}/op/uid/spot-1/keywords", params={"creatorUid": "CP-1"}, json={"a": 1}
    )
    unknown = await cp.put(f"{PREFIX}/op/uid/nobody/keywords", params={"creatorUid": "CP-1"}, json=["x"])
    hidden = await callers.eve.put(
        f"{PREFIX}/op/uid/spot-1/keywords", params={"creatorUid": "E-1"}, json=["x"]
    )
    assert (empty.status_code, not_a_list.status_code, unknown.status_code, hidden.status_code) == (
        400,
        400,
        404,
        404,
    )
    await callers.alpha.put(f"{PREFIX}/op/subscription", params={"uid": "ALPHA-1"})
    await cp.put(
        f"{PREFIX}/op/role",
        params={"clientUid": "ALPHA-1", "role": "MISSION_READONLY_SUBSCRIBER", "creatorUid": "CP-1"},
    )
    readonly = await callers.alpha.delete(
        f"{PREFIX}/op/uid/spot-1/keywords", params={"creatorUid": "ALPHA-1"}
    )
    assert readonly.status_code == 403
    cleared = await cp.delete(f"{PREFIX}/op/content/{digest}/keywords", params={"creatorUid": "CP-1"})
    assert cleared.status_code == 200
    await cp.delete(f"{PREFIX}/op/contents", params={"uid": "spot-1", "creatorUid": "CP-1"})
    await cp.put(f"{PREFIX}/op/contents", params={"creatorUid": "CP-1"}, json={"uids": ["spot-1"]})
    mission = only(await cp.get(f"{PREFIX}/op"))
    assert mission["contents"][0]["keywords"] == []
    assert mission["uids"][0]["keywords"] == [], "an item removed and added again starts without keywords"


async def test_roles_posted_as_subscriptions_update_subscribers_and_invite_the_rest(callers: Callers) -> None:
    cp = callers.cp
    await callers.alpha.put(f"{PREFIX}/op/subscription", params={"uid": "ALPHA-1"})
    rows = [
        {"clientUid": "ALPHA-1", "role": {"type": "MISSION_OWNER"}},
        {"clientUid": "NEW-1", "role": {"type": "MISSION_SUBSCRIBER"}},
    ]
    posted = await cp.post(f"{PREFIX}/op/subscription", params={"creatorUid": "CP-1"}, json=rows)
    assert posted.status_code == 200, posted.text
    roles = listed(await cp.get(f"{PREFIX}/op/subscriptions/roles"), "MissionSubscription")
    assert {row["clientUid"]: row["role"]["type"] for row in roles}["ALPHA-1"] == "MISSION_OWNER"
    invited = listed(await cp.get(f"{PREFIX}/op/invitations"), "MissionInvitation")
    assert [(row["invitee"], row["role"]["type"]) for row in invited] == [("NEW-1", "MISSION_SUBSCRIBER")]
    weaker = [{"clientUid": "NEW-2", "role": {"type": "MISSION_READONLY_SUBSCRIBER"}}]
    below_default = await cp.post(f"{PREFIX}/op/subscription", params={"creatorUid": "CP-1"}, json=weaker)
    missing = await cp.post(
        f"{PREFIX}/op/subscription", params={"creatorUid": "CP-1"}, json=[{"clientUid": "X"}]
    )
    no_creator = await cp.post(f"{PREFIX}/op/subscription", json=rows)
    hidden = await callers.eve.post(f"{PREFIX}/op/subscription", params={"creatorUid": "E-1"}, json=rows)
    assert (below_default.status_code, missing.status_code, no_creator.status_code, hidden.status_code) == (
        403,
        400,
        400,
        404,
    )
    await cp.put(f"{PREFIX}/op/subscription", params={"uid": "CP-5"})
    subscriber = await cp.post(f"{PREFIX}/op/subscription", params={"creatorUid": "CP-5"}, json=rows)
    assert subscriber.status_code == 403, "a subscriber may not set roles"

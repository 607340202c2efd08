"""The live socket of the web command post against real TAK clients (pytak) on loopback."""

import json
import time
import warnings
from collections.abc import Callable
from typing import Any

from rallypoint.pki.paths import audit_path
from tests.conftest import RunningServer
from tests.interop.clients import TakClient, chat_xml, event_xml, eventually, has_type, has_uid, pli_xml
from tests.interop.pytak_tools import pytak_client, pytak_pli, pytak_until
from tests.web.conftest import Browser

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=r"The '\w+' package is required", category=UserWarning)

EMERGENCY = (
    '<event version="2.0" uid="PYTAK-1-9-1-1" type="b-a-o-tbl" how="m-g" time="{t}" start="{t}" stale="{s}">'
    '<point lat="42.1" lon="-71.1" hae="6.1" ce="6.0" le="9999999.0"/><detail>'
    '<link uid="PYTAK-1" type="a-f-G-U-C" relation="p-p"/><contact callsign="HAWK-Alert"/>'
    '<emergency type="911 Alert">HAWK</emergency></detail></event>'
)


def is_type(kind: str, **fields: Any) -> Callable[[dict[str, Any]], bool]:
    """A live message of ``kind`` whose payload has ``fields``."""
    key = {"contact": "contact", "chat": "message", "alert": "alert"}.get(kind)

    def check(message: dict[str, Any]) -> bool:
        if message["type"] != kind:
            return False
        payload = message[key] if key else message
        return all(payload.get(name) == value for name, value in fields.items())

    return check


async def test_snapshot_then_a_pytak_position(
    web_server: RunningServer, browsers: Callable[[], Browser]
) -> None:
    browser = browsers()
    await browser.login("alice")
    old = await TakClient.connect(web_server.ports.tcp, "old")
    await old.send(pli_xml("OLD-1", "OLDIE", lat=10.0, lon=20.0))
    await eventually(lambda: "OLD-1" in web_server.server.context.router.cache)
    async with browser.live() as live, pytak_client(web_server.ports.tcp, "hawk") as tool:
        snapshot = await live.receive(lambda m: m["type"] == "snapshot")
        assert [c["uid"] for c in snapshot["contacts"]] == ["OLD-1"]
        assert snapshot["contacts"][0]["sidc"] == "SFGPUC---------"
        assert snapshot["contacts"][0]["team"] == "Cyan"
        await tool.tx_queue.put(pytak_pli("PYTAK-1", "HAWK"))
        message = await live.receive(is_type("contact", uid="PYTAK-1"))
    contact = message["contact"]
    assert (contact["callsign"], contact["lat"], contact["lon"]) == ("HAWK", 40.7128, -74.006)
    assert contact["affiliation"] == "f"
    assert contact["stale"] > contact["time"]
    await old.close()


async def test_a_burst_of_positions_ends_on_the_latest(
    web_server: RunningServer, browsers: Callable[[], Browser]
) -> None:
    """However the burst falls into coalescing periods (tests/unit/test_web_live_hub.py counts
    them), the page sees the positions in order and ends on the last one."""
    browser = browsers()
    await browser.login("alice")
    client = await TakClient.connect(web_server.ports.tcp, "mover")
    async with browser.live() as live:
        await live.receive(lambda m: m["type"] == "snapshot")
        for step in range(20):
            await client.send(pli_xml("MOVER", "MOVER", lat=1.0 + step / 100))
        await live.receive(is_type("contact", uid="MOVER", lat=1.19))
    latitudes = [m["contact"]["lat"] for m in live.seen if m["type"] == "contact"]
    assert latitudes == sorted(set(latitudes))
    assert latitudes[-1] == 1.19
    await client.close()


async def test_a_delete_removes_an_item_and_a_disconnect_keeps_the_unit_as_lost(
    web_server: RunningServer, browsers: Callable[[], Browser]
) -> None:
    browser, eve = browsers(), browsers()
    await browser.login("alice")
    await eve.login("eve")
    client = await TakClient.connect(web_server.ports.tcp, "leaver")
    async with browser.live() as live:
        await live.receive(lambda m: m["type"] == "snapshot")
        await client.send(pli_xml("LEAVER", "LEAVER"))
        await client.send(event_xml("MARKER-1", "b-m-p-s-m", '<contact callsign="spot"/>'))
        await live.receive(is_type("contact", uid="LEAVER"))
        await live.receive(is_type("contact", uid="MARKER-1"))
        await client.send(
            event_xml("DEL-1", "t-x-d-d", '<link uid="MARKER-1" relation="none"/><__forcedelete/>')
        )
        assert await live.receive(lambda m: m["type"] == "remove") == {"type": "remove", "uid": "MARKER-1"}
        await client.close()
        lost = (await live.receive(lambda m: m["type"] == "contact" and m["contact"]["uid"] == "LEAVER"))[
            "contact"
        ]
    assert lost["lost"]["reason"] == "disconnected"
    assert (lost["lat"], lost["lon"]) == (1.5, 2.5), "its last known position"
    async with browser.live() as again:
        snapshot = await again.receive(lambda m: m["type"] == "snapshot")
    assert [c["uid"] for c in snapshot["contacts"] if c.get("lost")] == ["LEAVER"]
    async with eve.live() as other:
        assert (await other.receive(lambda m: m["type"] == "snapshot"))["contacts"] == []


async def test_chat_both_ways_with_a_pytak_client(
    web_server: RunningServer, browsers: Callable[[], Browser]
) -> None:
    browser = browsers()
    await browser.login("alice")
    async with browser.live() as live, pytak_client(web_server.ports.tcp, "hawk") as tool:
        await live.receive(lambda m: m["type"] == "snapshot")
        await tool.tx_queue.put(pli_xml("PYTAK-1", "HAWK"))  # with an endpoint: binds uid and callsign
        await live.receive(is_type("contact", uid="PYTAK-1"))

        # page → TAK client: a direct GeoChat addressed the way ATAK addresses one
        response = await browser.post("/api/chat", {"to": "PYTAK-1", "text": "move to <grid> & hold"})
        assert response.status_code == 200
        chat = (await pytak_until(tool, lambda e: e.get("type") == "b-t-f"))[-1]
        echoed = await live.receive(is_type("chat", id=response.json()["id"]))
        detail = chat.find("detail")
        assert detail is not None
        assert detail.findtext("remarks") == "move to <grid> & hold"
        envelope = detail.find("__chat")
        assert envelope is not None
        assert (envelope.get("chatroom"), envelope.get("senderCallsign")) == ("HAWK", "alice")
        group = envelope.find("chatgrp")
        assert group is not None
        assert (group.get("uid0"), group.get("uid1")) == ("web-alice", "PYTAK-1")
        assert echoed["message"]["from_uid"] == "web-alice"

        # TAK client → page: ATAK's reply goes to the callsign of the chat's sender
        reply = chat_xml("PYTAK-1", "HAWK", "roger", to_callsign="alice", to_uid="web-alice")
        await tool.tx_queue.put(reply)
        received = await live.receive(is_type("chat", text="roger"))
    message = received["message"]
    assert (message["from_uid"], message["from_callsign"], message["to"]) == ("PYTAK-1", "HAWK", "web-alice")


async def test_room_chat_from_a_tak_client_reaches_the_page(
    web_server: RunningServer, browsers: Callable[[], Browser]
) -> None:
    browser = browsers()
    await browser.login("bob")
    client = await TakClient.connect(web_server.ports.tcp, "talker")
    async with browser.live() as live:
        await live.receive(lambda m: m["type"] == "snapshot")
        await client.send(chat_xml("TALKER", "TALK", "hello all"))
        received = await live.receive(is_type("chat", text="hello all"))
    assert received["message"]["to"] == "All Chat Rooms"
    assert received["message"]["room"] == "All Chat Rooms"
    await client.close()


async def test_emergency_becomes_an_alert_until_acknowledged(
    web_server: RunningServer, browsers: Callable[[], Browser]
) -> None:
    browser = browsers()
    await browser.login("alice")
    async with browser.live() as live, pytak_client(web_server.ports.tcp, "hawk") as tool:
        await live.receive(lambda m: m["type"] == "snapshot")
        now = time.time()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(now))
        stale = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(now + 10))
        await tool.tx_queue.put(EMERGENCY.format(t=stamp, s=stale).encode())
        alert = (await live.receive(lambda m: m["type"] == "alert"))["alert"]
        assert (alert["uid"], alert["callsign"], alert["kind"], alert["active"]) == (
            "PYTAK-1-9-1-1",
            "HAWK",
            "911 Alert",
            True,
        )
        ack = await browser.post("/api/alerts/PYTAK-1-9-1-1/ack")
        acknowledged = await live.receive(lambda m: m["type"] == "alert" and m["alert"]["acknowledged"])
    assert ack.status_code == 200
    assert acknowledged["alert"]["uid"] == "PYTAK-1-9-1-1"
    async with browser.live() as again:
        snapshot = await again.receive(lambda m: m["type"] == "snapshot")
    assert snapshot["alerts"] == []  # acknowledged for this user
    assert (await browser.post("/api/alerts/NOPE/ack")).status_code == 404


async def test_a_user_of_another_group_sees_none_of_it(
    web_server: RunningServer, browsers: Callable[[], Browser]
) -> None:
    alice, eve = browsers(), browsers()
    await alice.login("alice")
    await eve.login("eve")
    client = await TakClient.connect(web_server.ports.tcp, "anon")
    async with eve.live() as watcher, alice.live() as control:
        assert (await watcher.receive(lambda m: m["type"] == "snapshot"))["contacts"] == []
        await control.receive(lambda m: m["type"] == "snapshot")
        await client.send(pli_xml("ANON-1", "ANON"))
        await client.send(chat_xml("ANON-1", "ANON", "secret"))
        await control.wait_for(is_type("chat", text="secret"))
        await control.wait_for(is_type("contact", uid="ANON-1"))  # the flush that would have reached eve
        assert await watcher.settle(eve) == []
    assert (await eve.get("/api/contacts")).json() == []
    assert [c["uid"] for c in (await alice.get("/api/contacts")).json()] == ["ANON-1"]
    track = await eve.get("/api/contacts/ANON-1/track")
    assert track.json()["geometry"]["coordinates"] == []
    await web_server.server.context.store.flush()  # type: ignore[union-attr]
    mine = await alice.get("/api/contacts/ANON-1/track", minutes=5)
    assert mine.json()["geometry"]["coordinates"] == [[2.5, 1.5, 10.0]]
    await client.close()


async def test_a_tak_client_cannot_reach_a_page_outside_its_groups(
    web_server: RunningServer, browsers: Callable[[], Browser]
) -> None:
    eve = browsers()
    await eve.login("eve")
    client = await TakClient.connect(web_server.ports.tcp, "anon")
    async with eve.live() as watcher:
        await watcher.receive(lambda m: m["type"] == "snapshot")
        await client.send(chat_xml("ANON-1", "ANON", "psst", to_callsign="eve", to_uid="web-eve"))
        bounced = await client.receive(has_type("b-t-f-s"))  # routed: delivered to nobody
        assert await watcher.settle(eve) == []
    assert bounced.uid.startswith("GeoChat.ANON-1")
    assert not client.seen(has_uid("web-eve"))
    await client.close()


async def test_acknowledging_an_emergency_tells_the_device_and_is_audited(
    web_server: RunningServer, browsers: Callable[[], Browser]
) -> None:
    alice, eve = browsers(), browsers()
    await alice.login("alice")
    await eve.login("eve")
    async with alice.live() as live, pytak_client(web_server.ports.tcp, "hawk") as tool:
        await live.receive(lambda m: m["type"] == "snapshot")
        await tool.tx_queue.put(pli_xml("PYTAK-1", "HAWK"))  # binds uid and callsign
        await live.receive(is_type("contact", uid="PYTAK-1"))
        now = time.time()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(now))
        stale = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(now + 60))
        await tool.tx_queue.put(EMERGENCY.format(t=stamp, s=stale).encode())
        alert = (await live.receive(lambda m: m["type"] == "alert"))["alert"]
        assert alert["device"] == "PYTAK-1"
        assert (await eve.post("/api/alerts/PYTAK-1-9-1-1/ack")).status_code == 404, "not eve's group"

        ack = await alice.post("/api/alerts/PYTAK-1-9-1-1/ack")
        assert ack.status_code == 200
        assert ack.json()["device"] == "PYTAK-1"
        told = (await pytak_until(tool, lambda e: e.get("type") == "b-t-f"))[-1]
    assert told.findtext("detail/remarks") == "911 Alert acknowledged by alice at the command post"
    lines = audit_path(web_server.server.settings.data_dir).read_text().splitlines()
    entries = [entry for entry in map(json.loads, lines) if entry["kind"] == "alert_acknowledged"]
    assert [(e["user"], e["alert"], e["device"], e["told"]) for e in entries] == [
        ("alice", "PYTAK-1-9-1-1", "PYTAK-1", True)
    ]

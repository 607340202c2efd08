"""The first snapshot of a page replays the recent chat its user may read, from the store."""

from collections.abc import Callable
from typing import Any

from tests.conftest import RunningServer
from tests.interop.clients import TakClient, chat_xml, pli_xml
from tests.web.conftest import Browser


async def snapshot_chat(browser: Browser) -> list[str]:
    async with browser.live() as live:
        snapshot: dict[str, Any] = await live.receive(lambda m: m["type"] == "snapshot")
    return [message["text"] for message in snapshot["chat"]]


async def test_a_new_page_gets_the_chat_its_groups_and_direct_messages_allow(
    web_server: RunningServer, browsers: Callable[[], Browser]
) -> None:
    alice, bob, eve = browsers(), browsers(), browsers()
    for browser, user in ((alice, "alice"), (bob, "bob"), (eve, "eve")):
        await browser.login(user)
    client = await TakClient.connect(web_server.ports.tcp, "talker")
    try:
        async with alice.live() as live:
            await live.receive(lambda m: m["type"] == "snapshot")
            await client.send(pli_xml("TALKER", "TALK"))
            await client.send(chat_xml("TALKER", "TALK", "to everyone anonymous"))
            await client.send(
                chat_xml("TALKER", "TALK", "only for alice", to_callsign="alice", to_uid="web-alice")
            )
            await live.receive(lambda m: m["type"] == "chat" and m["message"]["text"] == "only for alice")
        assert (
            await alice.post("/api/chat", {"to": "All Chat Rooms", "text": "alice to all"})
        ).status_code == 200
        assert (await eve.post("/api/chat", {"to": "All Chat Rooms", "text": "red only"})).status_code == 200

        assert await snapshot_chat(alice) == ["to everyone anonymous", "only for alice", "alice to all"]
        assert await snapshot_chat(bob) == ["to everyone anonymous", "alice to all"]
        assert await snapshot_chat(eve) == ["red only"]
    finally:
        await client.close()

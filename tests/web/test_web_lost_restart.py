"""A unit the command post lost contact with is still shown, grey, after a server restart."""

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx

from rallypoint.config import Settings
from rallypoint.server.server import Server
from rallypoint.server.web import WebService
from tests.conftest import RunningServer
from tests.interop.clients import TakClient, pli_xml
from tests.web.conftest import TIMEOUT, Browser

Message = dict[str, object]


def is_contact(uid: str, *, lost: bool) -> Callable[[Message], bool]:
    def check(message: Message) -> bool:
        contact = message.get("contact")
        return isinstance(contact, dict) and contact.get("uid") == uid and ("lost" in contact) == lost

    return check


@asynccontextmanager
async def restarted(
    web_server: RunningServer, settings: Settings
) -> AsyncIterator[tuple[RunningServer, Browser]]:
    """Stop ``web_server`` and start a new server on the same data directory and store."""
    await web_server.server.stop()
    server = Server(settings)
    ports = await server.start()
    assert ports.web is not None
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{ports.web}", timeout=TIMEOUT) as client:
            yield RunningServer(server, ports), Browser(client, ports.web)
    finally:
        await server.stop()


async def kept(server: Server) -> list[str]:
    """The uids of the lost units in the server's store, once the web side has written them."""
    (web,) = [component for component in server.components if isinstance(component, WebService)]
    assert web.hub.keeper is not None
    assert server.context.store is not None
    await web.hub.keeper.flushed()
    return [record.uid for record in await server.context.store.lost_units()]


async def test_a_lost_unit_survives_a_restart_with_its_time_and_leaves_when_it_reports(
    browsers: Callable[[], Browser], web_server: RunningServer, web_settings: Settings
) -> None:
    alice = browsers()
    await alice.login("alice")
    client = await TakClient.connect(web_server.ports.tcp, "leaver")
    async with alice.live() as page:
        await page.receive(lambda m: m["type"] == "snapshot")
        await client.send(pli_xml("LEAVER", "LEAVER", lat=4.25, lon=5.5))
        await page.receive(is_contact("LEAVER", lost=False))
        await client.close()
        before = (await page.receive(is_contact("LEAVER", lost=True)))["contact"]
    assert before["lost"]["reason"] == "disconnected"
    assert await kept(web_server.server) == ["LEAVER"]
    async with restarted(web_server, web_settings) as (running, again):
        again.cookie, again.csrf = alice.cookie, alice.csrf
        async with again.live() as page:
            snapshot = await page.receive(lambda m: m["type"] == "snapshot")
            (after,) = [c for c in snapshot["contacts"] if c["uid"] == "LEAVER"]
            assert after["lost"] == before["lost"], "lost at the same time, for the same reason"
            assert (after["lat"], after["lon"]) == (4.25, 5.5)
            back = await TakClient.connect(running.ports.tcp, "leaver")
            await back.send(pli_xml("LEAVER", "LEAVER", lat=4.5, lon=5.5))
            found = await page.receive(is_contact("LEAVER", lost=False))
            assert found["contact"]["lat"] == 4.5
            assert await kept(running.server) == [], "back in contact: no longer kept as lost"
            await back.close()

"""The command post end to end in headless Chromium: log in, a pytak client's position on the
map (really drawn: the symbol's pixels are on the screenshot) and in the list, an objective
designated on the map, assigned, acknowledged from the pytak client, chat both ways, the
emergency banner, and a user of another group who sees none of it. How fast the page draws
is for ``rallypoint bench web`` to measure, not for these tests to judge."""

import asyncio
import io
import re
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Callable

from PIL import Image
from playwright.async_api import Page

from tests.browser.conftest import CommandPost, camera_at_rest, login, post_chat, until
from tests.interop.clients import chat_xml, cot_time, event_xml
from tests.interop.test_pytak import pytak_client
from tests.waiting import EVENT_TIMEOUT_S, eventually

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=r"The '\w+' package is required", category=UserWarning)
    import pytak

LAT, LON = 48.137, 11.575
FRIEND_FILL = (128, 224, 255)
"""2525 friend fill (#80e0ff) as milsymbol draws it."""
SYMBOL_BOX = 40
SEEN_ON_MAP_AND_LIST = """uid => [
    window.rallypoint.renderedUids().includes(uid),
    document.querySelector(`#contact-list [data-uid="${uid}"]`) !== null,
]"""


def pli(uid: str, callsign: str, lat: float = LAT, lon: float = LON) -> bytes:
    """An ATAK-style position report (an endpoint binds the connection to the uid), sent by pytak."""
    detail = (
        f'<contact callsign="{callsign}" endpoint="*:-1:stcp"/><__group name="Cyan" role="Team Member"/>'
        '<status battery="76"/><track course="45" speed="2.5"/>'
    )
    return event_xml(uid, "a-f-G-U-C", detail, lat=lat, lon=lon, stale_s=300)


def emergency(uid: str, callsign: str) -> bytes:
    t, s = cot_time(), cot_time(60)
    return (
        f'<event version="2.0" uid="{uid}-9-1-1" type="b-a-o-tbl" how="m-g" time="{t}" start="{t}" stale="{s}">'
        f'<point lat="{LAT}" lon="{LON}" hae="0" ce="9" le="9"/><detail>'
        f'<link uid="{uid}" type="a-f-G-U-C" relation="p-p"/><contact callsign="{callsign}-Alert"/>'
        f'<emergency type="911 Alert">{callsign}</emergency></detail></event>'
    ).encode()


async def received(
    tool: pytak.CLITool, predicate: Callable[[ET.Element], bool], timeout: float = EVENT_TIMEOUT_S
) -> ET.Element:
    """The first event from pytak's RX queue that ``predicate`` accepts."""
    async with asyncio.timeout(timeout):
        while True:
            element = ET.fromstring((await tool.rx_queue.get()).strip())
            if predicate(element):
                return element


def remarks_contain(text: str) -> Callable[[ET.Element], bool]:
    return lambda e: e.get("type") == "b-t-f" and text in (e.findtext("detail/remarks") or "")


async def friend_pixels(page: Page, x: float, y: float) -> int:
    """Pixels of friend-blue fill in a box of the screenshot centred on (x, y) of the map."""
    box = await page.locator("#map").bounding_box()
    assert box is not None
    clip = {
        "x": box["x"] + x - SYMBOL_BOX / 2,
        "y": box["y"] + y - SYMBOL_BOX / 2,
        "width": SYMBOL_BOX,
        "height": SYMBOL_BOX,
    }
    data = Image.open(io.BytesIO(await page.screenshot(clip=clip))).convert("RGB").tobytes()
    pixels = (data[i : i + 3] for i in range(0, len(data), 3))
    return sum(
        1 for pixel in pixels if all(abs(a - b) <= 24 for a, b in zip(pixel, FRIEND_FILL, strict=True))
    )


async def test_login_then_a_pytak_position_is_drawn_and_listed(command_post: CommandPost) -> None:
    page = await command_post.page(user=None)
    await page.fill("input[name=username]", "alice")
    await page.fill("input[name=password]", "wrong password")
    await page.click("#login-form button[type=submit]")
    await until(page, "document.querySelector('.login-error').textContent.length > 0")
    assert "Wrong user name or password" in await page.text_content(".login-error")
    await login(page, "alice")
    assert "alice" in await page.text_content("#user")
    await until(page, "document.getElementById('live-state').dataset.state === 'open'")

    async with pytak_client(command_post.ports.tcp, "browser-pli") as tool:
        await tool.tx_queue.put(pli("PYTAK-ALPHA", "ALPHA"))

        async def drawn_and_listed() -> bool:
            return all(await page.evaluate(SEEN_ON_MAP_AND_LIST, "PYTAK-ALPHA"))

        await eventually(drawn_and_listed, what="PYTAK-ALPHA on the map and in the list")
        at = await camera_at_rest(page, LON, LAT)

        async def symbol_on_screen() -> bool:
            return await friend_pixels(page, at["x"], at["y"]) > 40

        await eventually(symbol_on_screen, what="a friend symbol drawn where the contact is")
        assert await friend_pixels(page, at["x"] + 150, at["y"] + 120) == 0, (
            "symbol colour away from the contact"
        )
        assert "ALPHA" in await page.text_content("#contact-list")

        await page.click("#contact-list [data-uid='PYTAK-ALPHA']")
        await until(page, "!document.getElementById('contact-details').hidden")
        assert "ALPHA" in await page.text_content("#contact-details h2")
        await command_post.screenshot(page)
    assert page.errors == []  # type: ignore[attr-defined]


async def test_designate_assign_and_acknowledge_an_objective(command_post: CommandPost) -> None:
    page = await command_post.page()
    async with pytak_client(command_post.ports.tcp, "browser-objective") as tool:
        await tool.tx_queue.put(pli("PYTAK-BRAVO", "BRAVO"))
        await until(page, "window.rallypoint.renderedUids().includes('PYTAK-BRAVO')")
        await page.click("#contact-list [data-uid='PYTAK-BRAVO']")  # zooms the map to the team
        await camera_at_rest(page, LON, LAT)

        await page.click("nav.tabs [data-tab=missions]")
        await page.fill("#mission-name", "op-north")
        await page.fill("#mission-description", "Browser test mission")
        await page.click("#mission-create button[type=submit]")
        await until(page, "!!document.querySelector('#mission-detail h2')")
        await page.click("#designate-point")
        at = await page.evaluate(f"window.rallypoint.project({LON + 0.002}, {LAT + 0.001})")
        await page.locator("#map canvas").click(position={"x": at["x"], "y": at["y"]})
        await page.fill("#objective-title", "Hold the bridge")
        await page.fill("#objective-assignee", "BRAVO")
        await page.click("#objective-form button[type=submit]")

        row = "#objective-list .objective"
        await until(page, f"document.querySelector('{row} .state')?.dataset.state === 'assigned'")
        marker = await received(tool, lambda e: e.find("detail/__objective") is not None)
        objective = marker.find("detail/__objective")
        assert objective is not None
        short_id = "OBJ-" + (objective.get("id") or "").replace("-", "")[:8].upper()
        assert re.fullmatch(r"OBJ-[0-9A-F]{8}", short_id)
        point = marker.find("point")
        assert point is not None
        assert abs(float(point.get("lat") or 0) - (LAT + 0.001)) < 0.001

        await tool.tx_queue.put(chat_xml("PYTAK-BRAVO", "BRAVO", f"ACK {short_id}"))
        await until(page, f"document.querySelector('{row} .state')?.dataset.state === 'acknowledged'")
        await page.click(f"{row} .to-in_progress")
        await until(page, f"document.querySelector('{row} .state')?.dataset.state === 'in_progress'")
        await until(page, "document.getElementById('change-log').children.length >= 3")
        log = await page.text_content("#change-log") or ""
        assert " BRAVO: " in log, f"the answer's author by callsign: {log}"
        assert " PYTAK-BRAVO: " not in log
        await command_post.screenshot(page)
    assert page.errors == []  # type: ignore[attr-defined]


async def test_chat_round_trip_with_a_pytak_client(command_post: CommandPost) -> None:
    page = await command_post.page()
    async with pytak_client(command_post.ports.tcp, "browser-chat") as tool:
        await tool.tx_queue.put(pli("PYTAK-CHARLIE", "CHARLIE"))
        await until(page, "window.rallypoint.contactCount() > 0")

        await tool.tx_queue.put(chat_xml("PYTAK-CHARLIE", "CHARLIE", "contact at the ridge"))
        await page.click("nav.tabs [data-tab=chat]")
        await until(page, "document.getElementById('chat-log').textContent.includes('contact at the ridge')")

        await page.fill("#chat-input", "copy, moving up")
        await page.click("#chat-form button[type=submit]")
        await received(tool, remarks_contain("copy, moving up"))

        await page.click("nav.tabs [data-tab=contacts]")
        await page.click("#contact-list [data-uid='PYTAK-CHARLIE']")
        await page.click("#contact-details button:has-text('Message')")
        await page.fill("#chat-input", "direct: hold position")
        await page.click("#chat-form button[type=submit]")
        direct = await received(tool, remarks_contain("direct: hold position"))
        assert direct.get("type") == "b-t-f"
        await until(page, "document.querySelector('.chat-tabs [data-room=\"PYTAK-CHARLIE\"]') !== null")
        await command_post.screenshot(page)
    assert page.errors == []  # type: ignore[attr-defined]


async def test_emergency_banner_stays_until_acknowledged(command_post: CommandPost) -> None:
    page = await command_post.page()
    async with pytak_client(command_post.ports.tcp, "browser-alert") as tool:
        await tool.tx_queue.put(pli("PYTAK-DELTA", "DELTA"))
        await tool.tx_queue.put(emergency("PYTAK-DELTA", "DELTA"))
        await until(page, "!document.getElementById('alert-banner').hidden")
        assert "DELTA" in await page.text_content("#alert-banner")
        await command_post.screenshot(page)
        counters = command_post.server.context.counters
        await eventually(lambda: counters.get("alerts_repeated") >= 1, what="the alert repeated")
        await tool.tx_queue.put(chat_xml("PYTAK-DELTA", "DELTA", "after the repeats"))
        await until(page, "document.getElementById('chat-log').textContent.includes('after the repeats')")
        assert await page.is_visible("#alert-banner"), "the repeats reached the page and it stays up"
        await page.click("#alert-banner button.ack")
        await until(page, "document.getElementById('alert-banner').hidden")
    assert page.errors == []  # type: ignore[attr-defined]


async def test_a_user_of_another_group_sees_none_of_it(command_post: CommandPost) -> None:
    alice = await command_post.page("alice")
    eve = await command_post.page("eve")
    async with pytak_client(command_post.ports.tcp, "browser-groups") as tool:
        await tool.tx_queue.put(pli("PYTAK-ECHO", "ECHO"))
        await tool.tx_queue.put(chat_xml("PYTAK-ECHO", "ECHO", "only for the anonymous group"))
        await tool.tx_queue.put(emergency("PYTAK-ECHO", "ECHO"))
        await until(alice, "window.rallypoint.renderedUids().includes('PYTAK-ECHO')")
        await until(alice, "!document.getElementById('alert-banner').hidden")
        await alice.click("nav.tabs [data-tab=chat]")
        await until(
            alice, "document.getElementById('chat-log').textContent.includes('only for the anonymous group')"
        )
        # rita shares eve's group: once eve's page shows her chat, it has been sent everything
        # routed before it, and alice's page showing ECHO drawn means the flush of ECHO's
        # position (for every page at once) is among that.
        await post_chat(command_post, "rita", "red team check")
        await until(eve, "document.getElementById('chat-log').textContent.includes('red team check')")

        assert await eve.evaluate("window.rallypoint.contactCount()") == 0
        assert await eve.evaluate("window.rallypoint.renderedUids()") == []
        assert await eve.evaluate("document.getElementById('alert-banner').hidden")
        assert "ECHO" not in await eve.text_content("#contact-list")
        await eve.click("nav.tabs [data-tab=chat]")
        assert "only for the anonymous group" not in await eve.text_content("#chat-log")
        track = await eve.evaluate("fetch('/api/contacts/PYTAK-ECHO/track').then(r => r.status)")
        assert (
            track in (403, 404)
            or await eve.evaluate(
                "fetch('/api/contacts/PYTAK-ECHO/track').then(r => r.json()).then(f => f.geometry.coordinates.length)"
            )
            == 0
        )
        await command_post.screenshot(eve, "-eve")
        await command_post.screenshot(alice, "-alice")
    assert alice.errors == []  # type: ignore[attr-defined]
    assert eve.errors == []  # type: ignore[attr-defined]

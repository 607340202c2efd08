"""The command post as an incident commander runs it (issue 16): a form that survives live
updates, units that lose coverage kept as grey last-known positions, emergencies that cannot
be missed and are acknowledged to the device, and a layout that works on a phone."""

import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from PIL import Image
from playwright.async_api import Page

from tests.browser.conftest import TIMEOUT, CommandPost, camera_at_rest, login, password, until
from tests.browser.test_command_post import LAT, LON, emergency, pli, received, remarks_contain
from tests.interop.clients import event_xml
from tests.interop.test_pytak import pytak_client
from tests.web.test_web_data import package_zip

RED = (255, 0, 0)
CYAN = (0, 255, 255)
LABEL_TEXT = (16, 16, 16)
PHONE = {"width": 390, "height": 844}
TABLET = {"width": 820, "height": 1180}
ROW = "#contact-list [data-uid='{}']"
ONE_LINE = """() => {
    const header = document.querySelector('header.top');
    const tops = [...header.children].filter((e) => e.offsetParent !== null).map((e) => e.getBoundingClientRect());
    const middle = (r) => r.top + r.height / 2;
    return { height: header.getBoundingClientRect().height, spread: Math.max(...tops.map(middle)) - Math.min(...tops.map(middle)) };
}"""
"""The header's height and how far apart its items' centres are: on one line, a few pixels."""


@asynccontextmanager
async def web_api(command_post: CommandPost, user: str = "alice") -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client logged in to the web API as ``user`` (a second commander, no browser)."""
    async with httpx.AsyncClient(base_url=command_post.url, timeout=TIMEOUT) as http:
        login = await http.post("/api/login", json={"username": user, "password": password(user)})
        assert login.status_code == 200, login.text
        http.headers["X-CSRF-Token"] = login.json()["csrf"]
        http.headers["Cookie"] = f"rp_session={login.cookies['rp_session']}"
        yield http


async def post_ok(http: httpx.AsyncClient, path: str, body: dict[str, Any]) -> Any:
    answer = await http.post(path, json=body)
    assert answer.status_code in (200, 201), answer.text
    return answer.json()


async def test_typing_an_objective_survives_a_mission_change(command_post: CommandPost) -> None:
    page = await command_post.page()
    await page.click("nav.tabs [data-tab=missions]")
    await page.fill("#mission-name", "op-focus")
    await page.click("#mission-create button[type=submit]")
    await until(page, "document.querySelector('#mission-detail h2')?.textContent === 'op-focus'")
    await page.click("#designate-point")
    at = await page.evaluate(f"window.rallypoint.project({LON}, {LAT})")
    await page.locator("#map canvas").click(position={"x": at["x"], "y": at["y"]})
    await until(page, "document.activeElement?.id === 'objective-title'")
    await page.keyboard.type("Hold the ")

    async with web_api(command_post) as http:
        geometry = {"type": "Point", "coordinates": [LON + 0.01, LAT]}
        draft = {"title": "Someone else's", "description": "", "priority": "normal", "geometry": geometry}
        await post_ok(http, "/api/missions/op-focus/objectives", draft)
    await until(page, "document.querySelectorAll('#objective-list .objective').length === 1")

    await page.keyboard.type("bridge")
    assert await page.evaluate("document.activeElement?.id") == "objective-title"
    assert await page.input_value("#objective-title") == "Hold the bridge"
    await page.keyboard.press("Tab")
    await page.keyboard.type("a note")
    await page.fill("#objective-assignee", "BRAVO")
    await page.click("#objective-form button[type=submit]")
    await until(page, "document.querySelectorAll('#objective-list .objective').length === 2")
    assert "Assignee: BRAVO" in await page.text_content("#objective-list")
    await command_post.screenshot(page)
    assert page.errors == []  # type: ignore[attr-defined]


def short_lived_pli(uid: str, callsign: str, stale_s: float) -> bytes:
    """A position report (binding the uid) that goes stale ``stale_s`` after it was sent."""
    detail = f'<contact callsign="{callsign}" endpoint="*:-1:stcp"/><__group name="Cyan" role="Team Member"/>'
    return event_xml(uid, "a-f-G-U-C", detail, lat=LAT, lon=LON, stale_s=stale_s)


async def test_a_unit_that_loses_coverage_stays_grey_and_raises_an_alert(command_post: CommandPost) -> None:
    page = await command_post.page()
    row = ROW.format("PYTAK-LOST")
    async with pytak_client(command_post.ports.tcp, "browser-lost") as tool:
        await tool.tx_queue.put(short_lived_pli("PYTAK-LOST", "LOSTY", stale_s=3))
        await until(page, "window.rallypoint.renderedUids().includes('PYTAK-LOST')")
    # the connection closed: a TAK client is told to drop it; the command post keeps it
    await until(page, f"document.querySelector(\"{row}\")?.classList.contains('lost')")
    assert (await page.text_content(f"{row} .seen") or "").startswith("lost ")
    assert "PYTAK-LOST" in await page.evaluate("window.rallypoint.renderedUids()"), "still on the map"
    await until(page, "document.getElementById('alert-banner').textContent.includes('LOST CONTACT')")
    assert "LOSTY" in await page.text_content("#alert-banner")
    await page.click("#alert-banner .alert.lost button.show")
    await until(page, "window.rallypoint.selected() === 'PYTAK-LOST'")
    assert "CONTACT LOST" in await page.text_content("#contact-details")
    await command_post.screenshot(page)

    await page.reload()
    await until(page, "!!(window.rallypoint)")
    await page.evaluate("window.rallypoint.mapReady()")
    await until(page, f"document.querySelector(\"{row}\")?.classList.contains('lost')")
    await until(page, "window.rallypoint.renderedUids().includes('PYTAK-LOST')")
    await command_post.screenshot(page, "-reloaded")
    assert page.errors == []  # type: ignore[attr-defined]


async def test_an_emergency_sounds_notifies_blinks_and_is_acknowledged_to_the_device(
    command_post: CommandPost,
) -> None:
    page = await command_post.page(user=None)
    await page.context.grant_permissions(["notifications"], origin=command_post.url.rstrip("/"))
    await login(page, "alice")  # the click unlocks audio, as a person's first click does
    async with pytak_client(command_post.ports.tcp, "browser-sos") as tool:
        await tool.tx_queue.put(pli("PYTAK-DELTA", "DELTA"))
        await until(page, "window.rallypoint.renderedUids().includes('PYTAK-DELTA')")
        await tool.tx_queue.put(emergency("PYTAK-DELTA", "DELTA"))
        await until(page, "!document.getElementById('alert-banner').hidden")
        await until(page, "window.rallypoint.alarm().sounding")
        await until(page, "window.rallypoint.alarm().notifications >= 1")
        await until(page, "document.title.includes('EMERGENCY DELTA')")
        assert await page.evaluate("window.rallypoint.alarm().audio") == "running", (
            "the login click unlocked audio"
        )
        await until(page, "window.rallypoint.alarm().beeps >= 3")

        await page.click("#alert-banner .alert button.show")
        await until(page, "window.rallypoint.selected() === 'PYTAK-DELTA'")
        assert "DELTA" in await page.text_content("#contact-details h2")
        await camera_at_rest(page, LON, LAT)
        await until(
            page, f"document.querySelector(\"{ROW.format('PYTAK-DELTA')}\")?.classList.contains('selected')"
        )
        await command_post.screenshot(page)

        await page.click("#alarm-silence")
        await until(page, "!window.rallypoint.alarm().sounding && window.rallypoint.alarm().silenced")
        assert "EMERGENCY" in await page.text_content("#alert-banner"), "silenced, still shown"
        await page.click("#alert-banner button.ack")
        told = await received(tool, remarks_contain("acknowledged by alice"))
        assert "911 Alert" in (told.findtext("detail/remarks") or "")
        await until(page, "document.getElementById('alert-banner').hidden")
        await until(page, "!document.title.includes('EMERGENCY')")
    assert page.errors == []  # type: ignore[attr-defined]


async def test_a_phone_has_a_wide_map_a_one_line_header_and_a_bottom_sheet(command_post: CommandPost) -> None:
    page = await command_post.page(viewport=PHONE)
    header = await page.evaluate(ONE_LINE)
    assert header["spread"] < 6, f"the header wraps: {header}"
    assert header["height"] < 48, f"the header is more than one line: {header}"
    box = await page.locator("#map").bounding_box()
    assert box is not None
    assert box["width"] >= PHONE["width"] - 2, "the map takes the whole width"
    assert box["height"] > PHONE["height"] / 2
    side = await page.locator("aside.side").bounding_box()
    assert side is not None
    assert side["height"] < 80, "the sheet starts collapsed to its tabs"

    async with pytak_client(command_post.ports.tcp, "browser-phone") as tool:
        await tool.tx_queue.put(pli("PYTAK-FOXTROT", "FOXTROT"))
        await until(page, "window.rallypoint.renderedUids().includes('PYTAK-FOXTROT')")
        await page.click("nav.tabs [data-tab=contacts]")
        await until(page, "document.querySelector('aside.side').getBoundingClientRect().height > 300")
        await page.click(ROW.format("PYTAK-FOXTROT"))
        await until(page, "window.rallypoint.selected() === 'PYTAK-FOXTROT'")
        assert "FOXTROT" in await page.text_content("#contact-details h2")
        at = await camera_at_rest(page, LON, LAT)
        sheet = await page.locator("aside.side").bounding_box()
        assert sheet is not None
        assert 0 < at["y"] < sheet["y"] - box["y"], "the selected unit is centred above the sheet"
        map_box = await page.locator("#map").bounding_box()
        assert map_box is not None
        assert map_box["width"] >= PHONE["width"] - 2
        await command_post.screenshot(page)
        await page.click("#panel-toggle")
        await until(page, "document.querySelector('aside.side').getBoundingClientRect().height < 80")
        await command_post.screenshot(page, "-collapsed")
    assert page.errors == []  # type: ignore[attr-defined]


async def test_a_tablet_has_room_for_map_and_panel_and_can_hide_the_panel(command_post: CommandPost) -> None:
    page = await command_post.page(viewport=TABLET)
    header = await page.evaluate(ONE_LINE)
    assert header["spread"] < 6, f"the header wraps: {header}"
    box = await page.locator("#map").bounding_box()
    assert box is not None
    assert box["width"] >= TABLET["width"] / 2, "map and panel side by side, the map the larger"
    await command_post.screenshot(page)
    await page.click("#panel-toggle")
    await until(
        page, f"document.getElementById('map').getBoundingClientRect().width >= {TABLET['width'] - 2}"
    )
    assert await page.is_hidden("aside.side")
    await page.click("#panel-toggle")
    await until(page, "!!document.querySelector('aside.side').offsetParent")
    assert page.errors == []  # type: ignore[attr-defined]


async def test_contact_rows_are_reachable_and_selectable_by_keyboard(command_post: CommandPost) -> None:
    page = await command_post.page()
    async with pytak_client(command_post.ports.tcp, "browser-keys") as tool:
        await tool.tx_queue.put(pli("PYTAK-GOLF", "GOLF"))
        await tool.tx_queue.put(pli("PYTAK-HOTEL", "HOTEL", lon=LON + 0.01))
        await until(page, "document.querySelectorAll('#contact-list [data-uid]').length === 2")
        await page.focus("#contact-filter")
        await page.keyboard.press("Tab")
        assert await page.evaluate("document.activeElement?.classList.contains('zoom-team')"), (
            "the team first"
        )
        await page.keyboard.press("Tab")
        assert await page.evaluate("document.activeElement?.dataset.uid") == "PYTAK-GOLF"
        await page.keyboard.press("ArrowDown")
        assert await page.evaluate("document.activeElement?.dataset.uid") == "PYTAK-HOTEL"
        await page.keyboard.press("Enter")
        await until(page, "window.rallypoint.selected() === 'PYTAK-HOTEL'")
        assert "HOTEL" in await page.text_content("#contact-details h2")
        await command_post.screenshot(page)
    assert page.errors == []  # type: ignore[attr-defined]


async def test_the_packages_panel_fits_a_phone(command_post: CommandPost) -> None:
    page = await command_post.page(viewport=PHONE)
    await page.click("nav.tabs [data-tab=packages]")
    name = "incident-area-north-ridge-sector-7-overnight-operational-period-plan.zip"
    await page.set_input_files(
        "#package-file", files=[{"name": name, "mimeType": "application/zip", "buffer": package_zip()}]
    )
    await page.click("#package-form button[type=submit]")
    await until(page, "document.querySelectorAll('#package-list [data-hash]').length === 1")
    overflow = await page.evaluate(
        "[...document.querySelectorAll('.packages-panel, .packages-panel *')]"
        ".filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1).map((e) => e.outerHTML.slice(0, 80))"
    )
    assert overflow == [], "nothing sticks out of the window"
    await command_post.screenshot(page)
    assert page.errors == []  # type: ignore[attr-defined]


def team_pli(uid: str, callsign: str, team: str, lon: float) -> bytes:
    detail = (
        f'<contact callsign="{callsign}" endpoint="*:-1:stcp"/><__group name="{team}" role="Team Member"/>'
    )
    return event_xml(uid, "a-f-G-U-C", detail, lat=LAT, lon=lon)


async def colour_pixels(page: Page, x: float, y: float, colour: tuple[int, int, int], box: int = 44) -> int:
    """Pixels of ``colour`` (give or take) in a box of the screenshot centred on (x, y) of the map."""
    area = await page.locator("#map").bounding_box()
    assert area is not None
    clip = {"x": area["x"] + x - box / 2, "y": area["y"] + y - box / 2, "width": box, "height": box}
    data = Image.open(io.BytesIO(await page.screenshot(clip=clip))).convert("RGB").tobytes()
    pixels = (data[i : i + 3] for i in range(0, len(data), 3))
    return sum(1 for p in pixels if all(abs(a - b) <= 40 for a, b in zip(p, colour, strict=True)))


async def test_teams_are_drawn_in_their_colours_and_a_team_can_be_framed(command_post: CommandPost) -> None:
    page = await command_post.page()
    far = LON + 2.0
    async with pytak_client(command_post.ports.tcp, "browser-teams") as tool:
        await tool.tx_queue.put(team_pli("PYTAK-INDIA", "INDIA", "Cyan", LON))
        await tool.tx_queue.put(team_pli("PYTAK-JULIET", "JULIET", "Red", far))
        await until(page, "window.rallypoint.renderedUids().length === 2")
        await page.click("#contact-list [data-team='Red'] .zoom-team")
        at = await camera_at_rest(page, far, LAT)
        size = await page.locator("#map").bounding_box()
        assert size is not None
        assert abs(at["x"] - size["width"] / 2) < 5, "the Red team framed"
        assert abs(at["y"] - size["height"] / 2) < 5
        assert await colour_pixels(page, at["x"], at["y"], RED) > 30, "a red team ring"
        assert await colour_pixels(page, at["x"], at["y"], CYAN) == 0
        await command_post.screenshot(page)
        await page.click("#zoom-all")
        cyan = await camera_at_rest(page, LON, LAT)
        assert 0 < cyan["x"] < size["width"], "zoom to all frames both teams"
        assert await colour_pixels(page, cyan["x"], cyan["y"], CYAN) > 30, "a cyan team ring"
        label = await colour_pixels(page, cyan["x"], cyan["y"] + 26, LABEL_TEXT, box=14)
        assert label > 5, "a small picture is labelled when zoomed out to it"
        await command_post.screenshot(page, "-all")
    assert page.errors == []  # type: ignore[attr-defined]


async def test_the_selected_units_track_follows_it(command_post: CommandPost) -> None:
    page = await command_post.page()
    async with pytak_client(command_post.ports.tcp, "browser-track") as tool:
        await tool.tx_queue.put(pli("PYTAK-KILO", "KILO"))
        await until(page, "window.rallypoint.renderedUids().includes('PYTAK-KILO')")
        await page.click(ROW.format("PYTAK-KILO"))
        await until(page, "window.rallypoint.selected() === 'PYTAK-KILO'")
        for step in range(1, 4):
            await tool.tx_queue.put(pli("PYTAK-KILO", "KILO", lat=LAT + step * 0.002, lon=LON + step * 0.002))
            await until(page, f"window.rallypoint.trackPoints() >= {step + 1}")
        await camera_at_rest(page, LON, LAT)
        await command_post.screenshot(page)
    assert page.errors == []  # type: ignore[attr-defined]


async def test_an_admin_adds_a_user_and_hands_out_a_certificate_from_the_page(
    command_post: CommandPost,
) -> None:
    identities = command_post.server.context.identities
    assert identities is not None
    identities.add_user("root", password("root"), ["admin"])
    alice = await command_post.page("alice")
    assert await alice.locator("nav.tabs [data-tab=admin]").count() == 0, "no admin tab for a non-admin"
    page = await command_post.page("root")
    await page.click("nav.tabs [data-tab=admin]")
    await page.fill("#admin-name", "crew7")
    await page.fill("#admin-password", password("crew7"))
    await page.fill("#admin-groups", "blue, __ANON__")
    await page.fill("#admin-role", "Team Lead")
    await page.click("#admin-create button[type=submit]")
    user = "#admin-users [data-user='crew7']"
    await until(page, f'!!document.querySelector("{user}")')
    await page.click(f"{user} button.issue")
    await until(page, "!!document.getElementById('admin-p12')")
    assert len(await page.text_content("#admin-p12-password") or "") >= 12
    async with page.expect_download() as download:
        await page.click("#admin-p12")
    assert (await download.value).suggested_filename == "crew7.p12"
    await until(page, f"document.querySelector(\"{user} .certs\").textContent.startsWith('1 valid')")
    await command_post.screenshot(page)
    await page.click(f"{user} button.revoke")
    await until(page, f"document.querySelector(\"{user} .certs\").textContent.includes('1 revoked')")
    assert [r.serial for r in identities.certificates("crew7") if r.revoked_at is not None]
    assert page.errors == []  # type: ignore[attr-defined]

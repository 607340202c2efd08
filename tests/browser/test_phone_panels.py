"""The admin tab and the roll-call panel on a phone (390 x 844): with real content in them (users,
groups, devices; a roll call with its table of long callsigns) nothing sticks out to the side, so a commander never has to scroll the page sideways to reach a button. A screenshot of
each is saved."""

from typing import Any

from playwright.async_api import Page

from tests.browser.conftest import CommandPost, password, until
from tests.interop.clients import TakClient, eventually, pli_xml

PHONE = {"width": 390, "height": 844}
OVERFLOW = """(selector) => ({
    page: document.scrollingElement.scrollWidth - window.innerWidth,
    sticking: [...document.querySelectorAll(`${selector}, ${selector} *`)]
        .filter((e) => e.offsetParent !== null && e.getBoundingClientRect().right > window.innerWidth + 1)
        .map((e) => e.outerHTML.slice(0, 100)),
})"""
"""How far the page scrolls sideways, and the shown elements of ``selector`` whose right edge
is past the window's (an element inside a box that scrolls by itself counts too: its
buttons would be out of reach all the same)."""


async def assert_fits(page: Page, selector: str) -> None:
    measured: dict[str, Any] = await page.evaluate(OVERFLOW, selector)
    assert measured["page"] <= 0, f"the page scrolls sideways by {measured['page']} px"
    assert measured["sticking"] == [], "nothing sticks out of the window"


async def test_the_admin_tab_fits_a_phone(command_post: CommandPost) -> None:
    identities = command_post.server.context.identities
    assert identities is not None
    identities.add_user("root", password("root"), ["admin"])
    identities.add_user("incident-logistics-section-chief", password("x"), ["blue", "logistics-north-sector"])
    device = await TakClient.connect(command_post.ports.tcp, "phone-admin")
    await device.send(pli_xml("ANDROID-0123456789abcdef0123456789abcdef", "LONG-CALLSIGN-ENGINE-12"))
    router = command_post.server.context.router
    await eventually(lambda: router.registry.by_uid("ANDROID-0123456789abcdef0123456789abcdef") is not None)

    page = await command_post.page("root", viewport=PHONE)
    await page.click("nav.tabs [data-tab=admin]")
    await until(page, "!!document.querySelector('#admin-users [data-user=incident-logistics-section-chief]')")
    await until(page, "document.querySelectorAll('#admin-devices li[data-uid]').length === 1")
    await until(page, "!!document.querySelector('#admin-groups [data-group=logistics-north-sector]')")
    await assert_fits(page, "aside.side")
    await command_post.screenshot(page)
    assert page.errors == []  # type: ignore[attr-defined]
    await device.close()


async def test_the_roll_call_panel_fits_a_phone(command_post: CommandPost) -> None:
    alpha = await TakClient.connect(command_post.ports.tcp, "phone-alpha")
    bravo = await TakClient.connect(command_post.ports.tcp, "phone-bravo")
    await alpha.send(pli_xml("ALPHA-1", "ALPHA-ENGINE-COMPANY-12", lat=48.137, lon=11.575))
    await bravo.send(pli_xml("BRAVO-1", "BRAVO-WATER-TENDER-3", lat=48.139, lon=11.58))
    registry = command_post.server.context.router.registry
    await eventually(
        lambda: registry.by_uid("ALPHA-1") is not None and registry.by_uid("BRAVO-1") is not None
    )
    page = await command_post.page("alice", viewport=PHONE)
    await until(page, "window.rallypoint.contactCount() >= 2")
    await page.click("nav.tabs [data-tab=rollcall]")
    await assert_fits(page, "aside.side")
    await page.select_option("#rollcall-team", "Cyan")
    await page.click("#rollcall-start")
    await until(page, "document.querySelectorAll('#rollcall-table tbody tr').length === 2")
    await assert_fits(page, "aside.side")
    await command_post.screenshot(page)
    assert page.errors == []  # type: ignore[attr-defined]
    await alpha.close()
    await bravo.close()

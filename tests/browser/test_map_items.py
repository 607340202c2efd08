"""Map items that are not units, in headless Chromium (issue 16): a mission objective is drawn once,
on the objectives layer, though its marker reaches the page as CoT twice (the subscription's
copy and the assignee's CoT answer), and never as a unit or a marker nor in the unit list; it
is still drawn after a reload, before any mission is opened. A spot marker is listed in its
own "Drawings/markers" section after the teams, not under "No team". A screenshot is saved."""

from playwright.async_api import Page

from tests.browser.conftest import CommandPost, camera_at_rest, until
from tests.browser.test_command_post_field import post_ok, web_api
from tests.browser.test_drawing import field_client
from tests.interop.clients import event_xml, has_uid, pli_xml

LAT, LON = 48.137, 11.575
DRAWINGS = "Drawings/markers"
SECTIONS = """() => [...document.querySelectorAll('#contact-list [data-team], #contact-list [data-uid]')]
    .sort((a, b) => a.getBoundingClientRect().top - b.getBoundingClientRect().top)
    .map((e) => e.dataset.team !== undefined ? `team:${e.dataset.team}` : e.dataset.uid)"""
"""The list from top to bottom: section headings (``team:<name>``) and contact uids."""


async def drawn_once(page: Page, objective_ids: list[str]) -> None:
    """Each objective on the objectives layer, none as a unit, marker or list row."""
    await until(page, f"{objective_ids}.every((id) => window.rallypoint.renderedObjectiveIds().includes(id))")
    units = await page.evaluate("window.rallypoint.renderedUids()")
    shapes = await page.evaluate("window.rallypoint.renderedShapeUids()")
    listed = await page.evaluate(SECTIONS)
    assert not set(objective_ids) & (set(units) | set(shapes) | set(listed)), (units, shapes, listed)


async def test_objectives_are_drawn_once_and_markers_listed_apart(command_post: CommandPost) -> None:
    page = await command_post.page("alice")
    async with field_client(command_post) as field, web_api(command_post) as http:
        await field.send(pli_xml("ALPHA-1", "ALPHA", lat=LAT, lon=LON))
        await until(page, "window.rallypoint.renderedUids().includes('ALPHA-1')")
        await post_ok(http, "/api/missions", {"name": "op-once", "description": ""})
        await post_ok(http, "/api/missions/op-once/subscribe", {})
        point = {"type": "Point", "coordinates": [LON + 0.004, LAT + 0.002]}
        ring = [[LON - 0.006, LAT - 0.003], [LON - 0.002, LAT - 0.003], [LON - 0.004, LAT - 0.001]]
        area = {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}
        bridge = await post_ok(
            http,
            "/api/missions/op-once/objectives",
            {"title": "Hold the bridge", "priority": "high", "geometry": point, "assignee": "ALPHA"},
        )
        search = await post_ok(
            http, "/api/missions/op-once/objectives", {"title": "Search the wood", "geometry": area}
        )
        marker = await field.receive(has_uid(bridge["id"]))
        answer = (
            f'<__objective id="{bridge["id"]}" state="acknowledged"/><contact callsign="{marker.callsign}"/>'
        )
        await field.send(event_xml(bridge["id"], "b-m-p-s-p-i", answer, lat=LAT + 0.002, lon=LON + 0.004))
        spot = '<contact callsign="CCP"/><color argb="-16711936"/>'
        await field.send(event_xml("spot-ccp", "b-m-p-s-m", spot, how="h-g-i-g-o", lat=LAT - 0.002, lon=LON))
        await until(page, f"window.rallypoint.objectiveState('{bridge['id']}') === 'acknowledged'")
        await until(page, "window.rallypoint.renderedShapeUids().includes('spot-ccp')")

        await page.fill("#goto-input", f"{LAT}, {LON}")
        await page.click("#goto-form button[type=submit]")
        await camera_at_rest(page, LON, LAT)
        await drawn_once(page, [bridge["id"], search["id"]])
        assert await page.evaluate(SECTIONS) == ["team:Cyan", "ALPHA-1", f"team:{DRAWINGS}", "spot-ccp"]
        heading = await page.text_content(f"#contact-list [data-team='{DRAWINGS}']") or ""
        assert "1 on the map" in heading
        await command_post.screenshot(page)

        await page.reload()
        await until(page, "!!(window.rallypoint)")
        await page.evaluate("window.rallypoint.mapReady()")
        await until(page, "window.rallypoint.renderedShapeUids().includes('spot-ccp')")
        await drawn_once(page, [bridge["id"], search["id"]])
        await command_post.screenshot(page, "-reloaded")
    assert page.errors == []  # type: ignore[attr-defined]

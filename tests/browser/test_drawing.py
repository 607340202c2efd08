"""Placing markers and drawing shapes on the command post (issue 16): a marker, a polygon, a
circle and a range and bearing line drawn with the mouse reach a TAK client on the plain TCP
port as the CoT ATAK draws with; renaming the marker and deleting the circle follow; a rectangle the TAK client draws is
shown on the page as a shape, not as a unit symbol at its centre. Screenshots are saved with
everything drawn and after the delete."""

import contextlib
import math
from collections.abc import AsyncIterator

from playwright.async_api import Page

from tests.browser.conftest import CommandPost, camera_at_rest, until
from tests.interop.clients import Message, TakClient, event_xml, has_type, has_uid

LAT, LON = 48.137, 11.575
POLYGON = [(LON + 0.008, LAT + 0.003), (LON + 0.016, LAT + 0.003), (LON + 0.012, LAT + 0.008)]
"""lon, lat of the clicks: at the go-to zoom a few hundred pixels apart, clear of the tool panels."""
CIRCLE = [(LON - 0.012, LAT - 0.005), (LON - 0.012, LAT - 0.0035)]
RANGE_BEARING = [(LON - 0.012, LAT + 0.003), (LON - 0.004, LAT + 0.006)]
RECTANGLE = [
    (LAT - 0.01, LON + 0.008),
    (LAT - 0.01, LON + 0.016),
    (LAT - 0.005, LON + 0.016),
    (LAT - 0.005, LON + 0.008),
]


@contextlib.asynccontextmanager
async def field_client(command_post: CommandPost) -> AsyncIterator[TakClient]:
    """A TAK client on the plain TCP port (anonymous: in alice's ``__ANON__`` group), let in."""
    client = await TakClient.connect(command_post.ports.tcp, "field")
    try:
        await client.receive(has_type("t-x-takp-v"))
        yield client
    finally:
        await client.close()


async def click_at(page: Page, lon: float, lat: float) -> None:
    box = await page.locator("#map").bounding_box()
    assert box is not None
    at = await page.evaluate("([lon, lat]) => window.rallypoint.project(lon, lat)", [lon, lat])
    await page.mouse.click(box["x"] + at["x"], box["y"] + at["y"])


def attribute(message: Message, path: str, name: str) -> str | None:
    element = message.detail_element().find(path)
    return None if element is None else element.get(name)


async def test_draw_markers_and_shapes_that_reach_a_tak_client(command_post: CommandPost) -> None:
    page = await command_post.page("alice")
    async with field_client(command_post) as field:
        await page.fill("#goto-input", f"{LAT}, {LON}")
        await page.click("#goto-form button[type=submit]")
        await camera_at_rest(page, LON, LAT)

        await page.fill("#draw-label", "CCP")
        await page.select_option("#draw-colour", "#00ff00")
        await page.click("#draw-marker")
        await click_at(page, LON, LAT)
        marker = await field.receive(has_type("b-m-p-s-m"))
        assert marker.callsign == "CCP"
        assert abs(marker.lat - LAT) < 0.001
        assert abs(marker.lon - LON) < 0.001
        assert attribute(marker, "color", "argb") == str(0xFF00FF00 - (1 << 32))
        await until(page, "document.getElementById('draw-status').dataset.kind === 'sent'")

        await page.click("#draw-polygon")
        for lon, lat in POLYGON:
            await click_at(page, lon, lat)
        await page.click("#draw-finish")
        polygon = await field.receive(has_type("u-d-f"))
        vertices = polygon.detail_element().findall("link")
        assert len(vertices) == 4
        assert vertices[0].get("point") == vertices[-1].get("point")
        assert (polygon.callsign or "").startswith("Polygon")

        await page.click("#draw-circle")
        for lon, lat in CIRCLE:
            await click_at(page, lon, lat)
        circle = await field.receive(has_type("u-d-c-c"))
        radius = float(attribute(circle, "shape/ellipse", "major") or "nan")
        assert abs(radius - 167) < 10, radius  # 0.0015 degree of latitude, clicked to the pixel

        await page.click("#draw-rangebearing")
        for lon, lat in RANGE_BEARING:
            await click_at(page, lon, lat)
        line = await field.receive(has_type("u-rb-a"))
        (lon1, lat1), (lon2, lat2) = RANGE_BEARING
        expected_m = math.hypot(
            (lat2 - lat1) * 111_195, (lon2 - lon1) * 111_195 * math.cos(math.radians(lat1))
        )
        assert abs(float(attribute(line, "range", "value") or "nan") - expected_m) < 0.03 * expected_m

        links = "".join(f'<link point="{lat},{lon}"/>' for lat, lon in RECTANGLE)
        detail = f'{links}<strokeColor value="-16776961"/><fillColor value="1677721855"/><contact callsign="Rect 1"/>'
        await field.send(
            event_xml("atak-rect", "u-d-r", detail, how="h-e", lat=LAT - 0.0075, lon=LON + 0.012)
        )
        drawn = [marker.uid, polygon.uid, circle.uid, line.uid, "atak-rect"]
        await until(page, f"{drawn}.every((uid) => window.rallypoint.renderedShapeUids().includes(uid))")
        symbols = await page.evaluate("window.rallypoint.renderedUids()")
        assert not set(symbols) & set(drawn), symbols

        await click_at(page, LON, LAT)
        await until(page, f"document.getElementById('drawing-card').dataset.uid === '{marker.uid}'")
        await page.fill("#drawing-label", "CCP North")
        await page.click("#drawing-save")
        renamed = await field.receive(has_uid(marker.uid))
        assert renamed.callsign == "CCP North"
        await until(page, "document.getElementById('drawing-card').hidden")
        await until(page, "document.getElementById('contact-list')?.textContent.includes('CCP North')")

        await command_post.screenshot(page, "-drawn")
        await click_at(page, *CIRCLE[0])
        await until(page, f"document.getElementById('drawing-card').dataset.uid === '{circle.uid}'")
        await page.click("#drawing-delete")
        delete = await field.receive(has_type("t-x-d-d"))
        assert attribute(delete, "link", "uid") == circle.uid
        await until(page, f"!window.rallypoint.renderedShapeUids().includes('{circle.uid}')")
        await until(page, "document.getElementById('drawing-card').hidden")
        await command_post.screenshot(page)
    assert page.errors == []  # type: ignore[attr-defined]

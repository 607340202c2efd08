"""Map tools in the browser: go to an MGRS grid (the camera centres on it and a marker is set),
the cursor readout in decimal, DDM and MGRS where the mouse is, and the measure tool's
great-circle distance and bearing between two clicked points (checked against a haversine
computed here). A screenshot is saved with the measurement shown."""

import math

from tests.browser.conftest import CommandPost, camera_at_rest, until

TARGET = (-77.0353, 38.8895)
"""lon, lat of 18S UJ 23478 06483 (the Washington Monument)."""
SECOND = (-77.0203, 38.8975)
EARTH_RADIUS_M = 6_371_008.8


def haversine(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    """Metres and initial bearing (degrees) from ``a`` to ``b`` (lon, lat)."""
    (lon1, lat1), (lon2, lat2) = a, b
    p1, p2, dl = math.radians(lat1), math.radians(lat2), math.radians(lon2 - lon1)
    h = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    y = math.sin(dl) * math.cos(p2)
    x = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(h)), math.degrees(math.atan2(y, x)) % 360


async def test_go_to_a_grid_read_the_cursor_and_measure(command_post: CommandPost) -> None:
    page = await command_post.page("alice")
    box = await page.locator("#map").bounding_box()
    assert box is not None
    await page.fill("#goto-input", "18S UJ 23478 06483")
    await page.click("#goto-form button[type=submit]")
    at = await camera_at_rest(page, *TARGET)
    assert abs(at["x"] - box["width"] / 2) <= 2, at
    assert abs(at["y"] - box["height"] / 2) <= 2, at
    assert await page.locator(".maplibregl-marker").count() == 1

    await page.mouse.move(box["x"] + at["x"], box["y"] + at["y"])
    await until(page, "document.getElementById('map-cursor').textContent.includes('18S UJ 23')")
    readout = await page.inner_text("#map-cursor")
    for notation in ("38.889", "38° 53.", "077° 02."):  # decimal, DDM; MGRS waited for above
        assert notation in readout, readout

    await page.click("#measure-button")
    second = await page.evaluate("([lon, lat]) => window.rallypoint.project(lon, lat)", list(SECOND))
    await page.mouse.click(box["x"] + at["x"], box["y"] + at["y"])
    await page.mouse.click(box["x"] + second["x"], box["y"] + second["y"])
    await until(page, "document.getElementById('map-tool-result').dataset.metres !== undefined")
    metres = float(await page.get_attribute("#map-tool-result", "data-metres") or "nan")
    bearing = float(await page.get_attribute("#map-tool-result", "data-bearing") or "nan")
    expected_m, expected_bearing = haversine(TARGET, SECOND)
    assert abs(metres - expected_m) < 0.03 * expected_m, (metres, expected_m)  # clicks land on whole pixels
    assert abs(bearing - expected_bearing) < 2, (bearing, expected_bearing)
    assert "Distance" in await page.inner_text("#map-tool-result")

    await page.fill("#goto-input", "nowhere in particular")
    await page.click("#goto-form button[type=submit]")
    assert "Not a position" in await page.inner_text("#map-tool-result")
    await page.fill("#goto-input", "38 53.37 N, 77 2.118 W")
    await page.click("#goto-form button[type=submit]")
    assert "18S UJ" in await page.inner_text("#map-tool-result")
    await page.click("#measure-button")
    await page.mouse.click(box["x"] + at["x"], box["y"] + at["y"])
    await page.click("#measure-button")  # a second press cancels the measurement
    assert await page.inner_text("#map-tool-result") == ""
    await page.fill("#goto-input", "18S UJ 23478 06483")
    await page.click("#goto-form button[type=submit]")
    await camera_at_rest(page, *TARGET)
    await page.click("#measure-button")
    await page.mouse.click(box["x"] + at["x"], box["y"] + at["y"])
    await page.mouse.click(box["x"] + second["x"], box["y"] + second["y"])
    await until(page, "document.getElementById('map-tool-result').textContent.includes('Distance')")
    await command_post.screenshot(page)
    assert page.errors == []  # type: ignore[attr-defined]

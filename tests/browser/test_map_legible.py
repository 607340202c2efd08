"""A map a commander reads at a glance (issue 16): units clustered with a count when zoomed out
(a click on a cluster zooms in until it splits, a lone unit keeps its label below zoom 11), a
mission's map items sent by a field unit drawn on the map while the mission is open, and a
print to PDF of the current extent with its legend. Each saves a screenshot."""

import io
import math
import re

from playwright.async_api import Page
from pypdf import PdfReader

from tests.browser.conftest import CommandPost, camera_at_rest, until
from tests.browser.test_command_post import LAT, LON
from tests.browser.test_command_post_field import colour_pixels, post_ok, team_pli, web_api
from tests.interop.clients import event_xml
from tests.interop.test_pytak import pytak_client

CLUSTER_FILL = (31, 63, 106)
"""#1f3f6a, the cluster disc (webui/src/map/clusters.ts)."""
LABEL_INK = (70, 70, 70)
"""A callsign's anti-aliased strokes (drawn #101010, light where a stroke is thin)."""
MISSION_COLOUR = (192, 32, 138)
"""#c0208a, a mission's map items (webui/src/map/missionitems.ts)."""
GROUP = 30
FAR = 2.0
"""Degrees of longitude between the two crowded sites: framing both is zoomed out past 10."""


def unit(uid: str, lon: float, lat: float) -> bytes:
    """A Cyan team member's position report."""
    detail = f'<contact callsign="{uid.removeprefix("PYTAK-")}" endpoint="*:-1:stcp"/><__group name="Cyan" role="Team Member"/>'
    return event_xml(uid, "a-f-G-U-C", detail, lat=lat, lon=lon)


def crowd(prefix: str, lon: float) -> list[tuple[str, float, float]]:
    """GROUP units (uid, lon, lat) within a few hundred metres of (lon, LAT)."""
    return [(f"{prefix}-{i}", lon + 0.002 * (i % 6), LAT + 0.002 * (i // 6)) for i in range(GROUP)]


async def test_crowded_units_cluster_when_zoomed_out_and_a_click_zooms_in(command_post: CommandPost) -> None:
    page = await command_post.page()
    units = crowd("PYTAK-A", LON) + crowd("PYTAK-B", LON + FAR)
    lone = ("PYTAK-LONE", LON + FAR / 2, LAT + 0.8)
    async with pytak_client(command_post.ports.tcp, "browser-clusters") as tool:
        for uid, lon, lat in [*units, lone]:
            await tool.tx_queue.put(unit(uid, lon, lat))
        total = len(units) + 1
        await until(page, f"window.rallypoint.contactCount() === {total}")
        await page.click("#zoom-all")
        centre = await camera_at_rest(page, LON + 0.005, LAT + 0.004)
        assert await until(page, f"window.rallypoint.renderedUids().length === {total}"), (
            "units in clusters count"
        )
        assert await colour_pixels(page, centre["x"], centre["y"], CLUSTER_FILL, box=24) > 100, (
            "a cluster disc"
        )
        await command_post.screenshot(page)
        at = await page.evaluate("([lon, lat]) => window.rallypoint.project(lon, lat)", [lone[1], lone[2]])
        assert await colour_pixels(page, at["x"], at["y"] + 24, LABEL_INK, box=20) > 5, "a lone unit labelled"

        first, last = units[0], units[GROUP - 1]
        spread = await screen_distance(page, first, last)
        box = await page.locator("#map").bounding_box()
        assert box is not None
        await page.mouse.click(box["x"] + centre["x"], box["y"] + centre["y"])
        zoomed_in = (
            f"(() => {{ const a = window.rallypoint.project({first[1]}, {first[2]}),"
            f" b = window.rallypoint.project({last[1]}, {last[2]});"
            f" return Math.hypot(a.x - b.x, a.y - b.y) > {4 * spread}; }})()"
        )
        assert await until(page, zoomed_in), "the click zoomed in on the cluster"  # the zoom eases in
        await camera_at_rest(page, first[1], first[2])
        assert await screen_distance(page, first, last) > 4 * spread, "the click zoomed in on the cluster"
        assert await colour_pixels(page, centre["x"], centre["y"], CLUSTER_FILL, box=24) < 100
        await command_post.screenshot(page, "-zoomed")
    assert page.errors == []  # type: ignore[attr-defined]


async def screen_distance(page: Page, a: tuple[str, float, float], b: tuple[str, float, float]) -> float:
    """Pixels between two units on the map."""
    project = "([lon, lat]) => window.rallypoint.project(lon, lat)"
    pa = await page.evaluate(project, [a[1], a[2]])
    pb = await page.evaluate(project, [b[1], b[2]])
    return math.hypot(pa["x"] - pb["x"], pa["y"] - pb["y"])


CORNERS = ((LAT + 0.01, LON), (LAT + 0.01, LON + 0.02), (LAT, LON + 0.02), (LAT, LON))


def to_mission(
    uid: str, cot_type: str, mission: str, detail: str, lat: float = LAT, lon: float = LON
) -> bytes:
    """A map item a field unit sends to ``mission`` (ATAK's "send to mission")."""
    return event_xml(uid, cot_type, f'{detail}<marti><dest mission="{mission}"/></marti>', lat=lat, lon=lon)


async def test_a_field_units_mission_items_are_drawn_while_the_mission_is_open(
    command_post: CommandPost,
) -> None:
    page = await command_post.page()
    async with web_api(command_post) as http:
        await post_ok(http, "/api/missions", {"name": "op-items", "description": "wildfire"})
    await page.click("nav.tabs [data-tab=missions]")
    await until(page, "document.querySelector('#mission-list [data-mission=op-items]') !== null")
    await page.click("#mission-list [data-mission=op-items]")
    await until(page, "document.querySelector('#mission-detail h2')?.textContent === 'op-items'")
    links = "".join(f'<link point="{lat},{lon}"/>' for lat, lon in CORNERS)
    async with pytak_client(command_post.ports.tcp, "browser-items") as tool:
        await tool.tx_queue.put(
            to_mission(
                "rect-1",
                "u-d-r",
                "op-items",
                f'<contact callsign="Fire line"/>{links}',
                LAT + 0.005,
                LON + 0.01,
            )
        )
        await tool.tx_queue.put(
            to_mission(
                "spot-1", "b-m-p-s-m", "op-items", '<contact callsign="Helispot"/>', LAT - 0.01, LON - 0.01
            )
        )
        await until(page, "document.querySelectorAll('#mission-items [data-item]').length === 2")
    assert "Fire line" in await page.inner_text("#mission-items")
    await page.click("#mission-items [data-item='rect-1'] button")
    corner = await camera_at_rest(page, CORNERS[0][1], CORNERS[0][0])
    assert await colour_pixels(page, corner["x"], corner["y"], MISSION_COLOUR) > 30, "the rectangle's outline"
    await command_post.screenshot(page)
    await page.click("#mission-items [data-item='spot-1'] button")
    spot = await camera_at_rest(page, LON - 0.01, LAT - 0.01)
    assert await colour_pixels(page, spot["x"], spot["y"], MISSION_COLOUR, box=16) > 30, "the marker"
    assert page.errors == []  # type: ignore[attr-defined]


async def test_the_map_prints_to_pdf_with_a_legend(command_post: CommandPost) -> None:
    page = await command_post.page()
    async with pytak_client(command_post.ports.tcp, "browser-print") as tool:
        await tool.tx_queue.put(team_pli("PYTAK-P1", "P1", "Cyan", LON))
        await tool.tx_queue.put(team_pli("PYTAK-P2", "P2", "Cyan", LON + 0.01))
        await tool.tx_queue.put(team_pli("PYTAK-P3", "P3", "Red", LON + 0.02))
        await until(page, "window.rallypoint.renderedUids().length === 3")
        await page.click("#zoom-all")
        await camera_at_rest(page, LON, LAT)
        pdf = await page.pdf()  # Chromium's print: "beforeprint" lays out the sheet
        reader = PdfReader(io.BytesIO(pdf))
        assert len(reader.pages) == 1, "one landscape sheet"
        text = reader.pages[0].extract_text()
        for words in ("Units by team (3)", "Cyan: 2", "Red: 1", "Printed", "UTC", "Scale bar", "north up"):
            assert words in text, (words, text)
        south, west = (float(v) for v in re.findall(r"Extent (\d+\.\d+)° N (\d+\.\d+)° E", text)[0])
        assert LAT - 0.5 < south < LAT, "the extent is the map's, around the units"
        assert LON - 0.5 < west < LON
        value, unit_name = re.findall(r"Scale bar (\d+) (k?m)", text)[0]
        metres = float(value) * (1000 if unit_name == "km" else 1)
        assert 100 <= metres <= 1000, "a fifth of a map about 2 km across, rounded down"
        assert len(reader.pages[0].images) >= 1, "the map's picture is on the sheet"
        await page.emulate_media(media="print")
        await page.evaluate("window.dispatchEvent(new Event('beforeprint'))")
        await command_post.screenshot(page)
    assert page.errors == []  # type: ignore[attr-defined]

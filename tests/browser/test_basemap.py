"""The map's basemaps in Chromium: an OpenMapTiles vector MBTiles drawn with the bundled style
(water, land, roads, not a blue sheet), the built-in outlines clean at world view, and the
switcher between built-in, offline area and an online tile server (a real HTTP server on
loopback), its choice kept across a reload. Colours are read from screenshots."""

import io
import math
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.async_api import Page

from tests.browser.conftest import CommandPost, camera_at_rest, until
from tests.browser.test_command_post import pli
from tests.interop.test_pytak import pytak_client
from tests.tilefiles import AREA_TILE, png_tile, vector_mbtiles
from tests.waiting import eventually

WATER = (0xA9, 0xC6, 0xDE)
LAND = (0xF2, 0xEF, 0xE6)
ROAD = (0xE3, 0x9B, 0x4C)
DARK_WATER = (0x0F, 0x2B, 0x42)
ONLINE = (60, 170, 60)
TOLERANCE = 14


def tile_point(fx: float, fy: float) -> tuple[float, float]:
    """(lon, lat) at fractions (fx, fy) across the area tile, from its north-west corner."""
    z, x, y = AREA_TILE
    n = 1 << z
    lon = (x + fx) / n * 360 - 180
    lat = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * (y + fy) / n))))
    return lon, lat


class _Tiles(BaseHTTPRequestHandler):
    """An online tile server: a green PNG for every tile, open to any origin (MapLibre fetches)."""

    body = png_tile(ONLINE)

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def online_tiles() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Tiles)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/{{z}}/{{x}}/{{y}}.png"
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


@pytest.fixture
def web_overrides(tmp_path: Path, online_tiles: str) -> dict[str, Any]:
    return {"web_mbtiles": str(vector_mbtiles(tmp_path / "area.mbtiles")), "web_tile_url": online_tiles}


async def map_image(page: Page) -> tuple[Image.Image, dict[str, float]]:
    box = await page.locator("#map").bounding_box()
    assert box is not None
    image = Image.open(io.BytesIO(await page.screenshot(clip=box))).convert("RGB")
    return image, box


def near(pixel: tuple[int, ...], colour: tuple[int, int, int]) -> bool:
    return all(abs(a - b) <= TOLERANCE for a, b in zip(pixel, colour, strict=True))


async def screen(page: Page, lon: float, lat: float) -> tuple[int, int]:
    at = await page.evaluate("([lon, lat]) => window.rallypoint.project(lon, lat)", [lon, lat])
    return int(at["x"]), int(at["y"])


async def colour_at(page: Page, lon: float, lat: float) -> tuple[int, ...]:
    x, y = await screen(page, lon, lat)
    image, _ = await map_image(page)
    assert 0 <= x < image.width, f"({lon}, {lat}) is off the map"
    assert 0 <= y < image.height, f"({lon}, {lat}) is off the map"
    return tuple(image.getpixel((x, y)))  # type: ignore[arg-type]


async def crossed_rows(page: Page, west: float, south: float, east: float, north: float) -> list[int]:
    """Rows of an open-ocean box that are mostly not water: a line drawn across the sea."""
    image, _ = await map_image(page)
    (x0, y0), (x1, y1) = await screen(page, west, north), await screen(page, east, south)
    y0, y1 = max(y0, 0), min(y1, image.height)
    crossed = []
    for y in range(y0, y1):
        row = [image.getpixel((x, y)) for x in range(x0, x1)]
        if sum(1 for p in row if not near(p, WATER)) > 0.8 * len(row):  # type: ignore[arg-type]
            crossed.append(y)
    return crossed


def share_of(image: Image.Image, colour: tuple[int, int, int]) -> float:
    data = image.tobytes()
    pixels = [data[i : i + 3] for i in range(0, len(data), 3)]
    return sum(1 for p in pixels if near(tuple(p), colour)) / len(pixels)


async def frame_the_area(command_post: CommandPost, page: Page) -> None:
    """Two crews at opposite corners of the area; "zoom to all units" puts its tile in view."""
    async with pytak_client(command_post.ports.tcp, "browser-basemap") as tool:
        for uid, (fx, fy) in {"AREA-NW": (0.1, 0.1), "AREA-SE": (0.9, 0.9)}.items():
            lon, lat = tile_point(fx, fy)
            await tool.tx_queue.put(pli(uid, uid, lat=lat, lon=lon))

        async def both_drawn() -> bool:
            return len(await page.evaluate("window.rallypoint.renderedUids()")) >= 2

        await eventually(both_drawn, what="both crews on the map")
    await page.click("#zoom-all")
    await camera_at_rest(page, *tile_point(0.5, 0.5))


async def eventually_colour(
    page: Page, where: tuple[float, float], colour: tuple[int, int, int], what: str
) -> None:
    async def shows() -> bool:
        return near(await colour_at(page, *where), colour)

    await eventually(shows, what=what)


async def test_world_view_has_sea_where_sea_is(command_post: CommandPost) -> None:
    """Built-in outlines at the opening world view: open ocean is water, a continent is land."""
    page = await command_post.page("eve")  # sees no crews: the camera stays on the world
    for ocean in [(-40.0, 30.0), (-25.0, -35.0), (75.0, -30.0), (-30.0, 55.0), (-5.0, 66.0)]:
        assert near(await colour_at(page, *ocean), WATER), f"ocean at {ocean} not drawn as water"
    for land in [(20.0, 15.0), (100.0, 60.0), (-60.0, -10.0)]:
        assert near(await colour_at(page, *land), LAND), f"land at {land} not drawn as land"
    assert await crossed_rows(page, -30, -50, -5, -20) == [], "a line across the South Atlantic"
    assert await crossed_rows(page, -45, 40, -20, 55) == [], "a line across the North Atlantic"
    image, _ = await map_image(page)
    assert 0.2 < share_of(image, WATER) < 0.85
    await command_post.screenshot(page)
    assert page.errors == []  # type: ignore[attr-defined]


async def test_a_vector_mbtiles_is_drawn_with_the_bundled_style(command_post: CommandPost) -> None:
    page = await command_post.page("alice")
    assert await page.input_value("#basemap-select") == "local"
    await frame_the_area(command_post, page)
    await eventually_colour(page, tile_point(0.25, 0.5), WATER, "the lake (west half) drawn as water")
    assert near(await colour_at(page, *tile_point(0.6, 0.5)), LAND), "the east half is land"
    assert near(await colour_at(page, *tile_point(0.7, 3000 / 4096)), ROAD), "the primary road is drawn"
    image, _ = await map_image(page)
    assert share_of(image, WATER) < 0.8, "the map is a solid blue sheet"
    await command_post.screenshot(page)
    assert page.errors == []  # type: ignore[attr-defined]


async def test_the_switcher_changes_the_basemap_and_remembers_it(command_post: CommandPost) -> None:
    page = await command_post.page("alice")
    await frame_the_area(command_post, page)
    lake = tile_point(0.25, 0.5)
    await eventually_colour(page, lake, WATER, "the offline area drawn first")

    await page.select_option("#basemap-select", "online")
    await eventually_colour(page, lake, ONLINE, "the online tiles drawn")
    await command_post.screenshot(page, "-online")

    await page.reload()
    await until(page, "!!(window.rallypoint)")
    await page.evaluate("window.rallypoint.mapReady()")
    assert await page.input_value("#basemap-select") == "online"
    await camera_at_rest(page, *tile_point(0.5, 0.5))
    await eventually_colour(page, lake, ONLINE, "the online tiles drawn again after a reload")

    await page.select_option("#basemap-select", "local-dark")
    await eventually_colour(page, lake, DARK_WATER, "the offline area in the dark palette")
    await command_post.screenshot(page, "-dark")

    await page.select_option("#basemap-select", "builtin")
    await eventually_colour(page, lake, LAND, "the built-in outlines (no lake at 1:50m)")
    image, _ = await map_image(page)
    assert share_of(image, ONLINE) < 0.01
    assert share_of(image, LAND) < 0.99, "a blank sheet at incident zoom (no grid)"
    await command_post.screenshot(page, "-builtin")
    assert page.errors == []  # type: ignore[attr-defined]

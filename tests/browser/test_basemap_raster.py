"""A raster MBTiles as the offline area: its image drawn over the area, overscaled past its
deepest zoom; the built-in outlines elsewhere."""

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import CommandPost
from tests.browser.test_basemap import eventually_colour, frame_the_area, map_image, share_of, tile_point
from tests.tilefiles import raster_mbtiles

RASTER = (200, 60, 60)


@pytest.fixture
def web_overrides(tmp_path: Path) -> dict[str, Any]:
    return {"web_mbtiles": str(raster_mbtiles(tmp_path / "raster.mbtiles", RASTER))}


async def test_a_raster_mbtiles_is_drawn_over_its_area(command_post: CommandPost) -> None:
    page = await command_post.page("alice")
    assert await page.input_value("#basemap-select") == "local"
    await frame_the_area(command_post, page)
    await eventually_colour(page, tile_point(0.5, 0.4), RASTER, "the raster tile drawn")
    image, _ = await map_image(page)
    assert share_of(image, RASTER) > 0.5
    await command_post.screenshot(page)
    assert page.errors == []  # type: ignore[attr-defined]

"""The offline basemap's MBTiles: classified at start-up (raster, OpenMapTiles vector, or
refused with one line), described in ``/api/config`` and served with the right headers."""

import dataclasses
import gzip
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from rallypoint.config import Settings
from rallypoint.errors import ConfigError
from rallypoint.http.command_post.tiles import MbTiles
from tests.tilefiles import (
    AREA_TILE,
    AREA_ZOOM,
    area_vector_tile,
    png_tile,
    raster_mbtiles,
    vector_mbtiles,
    write_mbtiles,
)
from tests.web.conftest import Browser

Z, X, Y = AREA_TILE


@pytest.fixture(params=["vector", "raster"])
def web_settings(web_settings: Settings, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    make = vector_mbtiles if request.param == "vector" else raster_mbtiles
    return dataclasses.replace(web_settings, web_mbtiles=str(make(tmp_path / f"{request.param}.mbtiles")))


async def test_config_describes_the_file_and_tiles_are_served_as_stored(
    browsers: Callable[[], Browser], web_settings: Settings
) -> None:
    vector = web_settings.web_mbtiles.endswith("vector.mbtiles")
    browser = browsers()
    await browser.login("alice")
    local = (await browser.get("/api/config")).json()["tiles"]["local"]
    assert local["url"] == "/api/tiles/{z}/{x}/{y}"
    assert local["kind"] == ("vector" if vector else "raster")
    assert (local["minzoom"], local["maxzoom"]) == (AREA_ZOOM, AREA_ZOOM)
    response = await browser.get(f"/api/tiles/{Z}/{X}/{Y}")
    assert response.status_code == 200
    if vector:
        assert response.headers["content-type"] == "application/x-protobuf"
        assert response.headers["content-encoding"] == "gzip"
        # httpx undoes the transfer's gzip, as a browser does: the bytes are the tile itself
        assert response.content == area_vector_tile()
    else:
        assert response.headers["content-type"] == "image/png"
        assert "content-encoding" not in response.headers
        assert response.content == png_tile((200, 60, 60))
    missing = await browser.get(f"/api/tiles/{Z}/{X + 1}/{Y}")
    assert missing.status_code == 204


def test_a_vector_file_of_another_schema_is_refused(tmp_path: Path) -> None:
    path = vector_mbtiles(tmp_path / "other.mbtiles", layers=("roads_custom", "rivers"))
    with pytest.raises(ConfigError, match="not the OpenMapTiles schema"):
        MbTiles(path)


def test_an_unknown_format_is_refused(tmp_path: Path) -> None:
    path = write_mbtiles(tmp_path / "tiff.mbtiles", {"format": "tiff"}, {AREA_TILE: b"II*\x00"})
    with pytest.raises(ConfigError, match="unsupported tile format 'tiff'"):
        MbTiles(path)


def test_vector_tiles_labelled_png_are_refused(tmp_path: Path) -> None:
    path = write_mbtiles(
        tmp_path / "liar.mbtiles", {"format": "png"}, {AREA_TILE: gzip.compress(area_vector_tile())}
    )
    with pytest.raises(ConfigError, match="metadata says 'png' but its tiles are pbf"):
        MbTiles(path)


def test_a_file_without_format_is_classified_by_its_tiles(tmp_path: Path) -> None:
    vector = write_mbtiles(tmp_path / "v.mbtiles", {}, {AREA_TILE: gzip.compress(area_vector_tile())})
    raster = write_mbtiles(
        tmp_path / "r.mbtiles", {"bounds": "6.9,45.9,7.4,46.3"}, {AREA_TILE: png_tile((1, 2, 3))}
    )
    assert (MbTiles(vector).info.kind, MbTiles(raster).info.kind) == ("vector", "raster")
    assert MbTiles(raster).info.bounds == (6.9, 45.9, 7.4, 46.3)
    assert json.loads(json.dumps(MbTiles(vector).info.maxzoom)) == AREA_ZOOM


def test_a_file_that_is_not_sqlite_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "junk.mbtiles"
    path.write_bytes(b"not a database at all" * 100)
    with pytest.raises(ConfigError, match="is not a readable MBTiles file"):
        MbTiles(path)

"""Small MBTiles files written by the tests: a minimal Mapbox Vector Tile encoder (protobuf by
hand, the few fields a tile needs) and a solid-colour PNG encoder, so that the offline basemap is
tested on real SQLite files and real tile bytes without a tile toolchain."""

import gzip
import json
import math
import sqlite3
import struct
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

EXTENT = 4096
POINT, LINESTRING, POLYGON = 1, 2, 3


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(number: int, wire: int) -> bytes:
    return _varint(number << 3 | wire)


def _bytes(number: int, data: bytes) -> bytes:
    return _key(number, 2) + _varint(len(data)) + data


def _packed(number: int, values: Iterable[int]) -> bytes:
    return _bytes(number, b"".join(_varint(v) for v in values))


def _zigzag(value: int) -> int:
    return (value << 1) ^ (value >> 31)


def _geometry(kind: int, coords: Sequence[tuple[int, int]]) -> list[int]:
    """Command integers for one point, line or ring (rings closed with ClosePath)."""
    cursor = (0, 0)
    out: list[int] = []
    for index, (x, y) in enumerate(coords):
        if index == 0:
            out.append(1 | 1 << 3)  # MoveTo, 1
        elif index == 1:
            out.append(2 | (len(coords) - 1) << 3)  # LineTo, the rest
        out += [_zigzag(x - cursor[0]), _zigzag(y - cursor[1])]
        cursor = (x, y)
    if kind == POLYGON:
        out.append(7 | 1 << 3)  # ClosePath
    return out


@dataclass
class Feature:
    kind: int
    coords: list[tuple[int, int]]
    """Tile coordinates (0..EXTENT, y down); a polygon's ring clockwise on screen."""
    properties: dict[str, str] = field(default_factory=dict)


def vector_tile(layers: dict[str, list[Feature]]) -> bytes:
    """The protobuf of a version-2 vector tile holding ``layers``."""
    tile = b""
    for name, features in layers.items():
        keys: list[str] = []
        values: list[str] = []
        body = _key(15, 0) + _varint(2) + _bytes(1, name.encode())
        for number, feature in enumerate(features, start=1):
            tags: list[int] = []
            for key, value in feature.properties.items():
                if key not in keys:
                    keys.append(key)
                if value not in values:
                    values.append(value)
                tags += [keys.index(key), values.index(value)]
            encoded = _key(1, 0) + _varint(number) + _packed(2, tags)
            encoded += (
                _key(3, 0) + _varint(feature.kind) + _packed(4, _geometry(feature.kind, feature.coords))
            )
            body += _bytes(2, encoded)
        body += b"".join(_bytes(3, key.encode()) for key in keys)
        body += b"".join(_bytes(4, _bytes(1, value.encode())) for value in values)
        body += _key(5, 0) + _varint(EXTENT)
        tile += _bytes(3, body)
    return tile


def png_tile(rgb: tuple[int, int, int], size: int = 256) -> bytes:
    """A solid-colour PNG of ``size`` by ``size`` pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + bytes(rgb) * size
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * size))
        + chunk(b"IEND", b"")
    )


def tile_of(lon: float, lat: float, zoom: int) -> tuple[int, int]:
    """The XYZ tile holding (lon, lat)."""
    n = 1 << zoom
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def tile_centre(x: int, y: int, zoom: int) -> tuple[float, float]:
    """(lon, lat) of the middle of an XYZ tile."""
    n = 1 << zoom
    lon = (x + 0.5) / n * 360 - 180
    lat = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * (y + 0.5) / n))))
    return lon, lat


def write_mbtiles(path: Path, metadata: dict[str, str], tiles: dict[tuple[int, int, int], bytes]) -> Path:
    """An MBTiles file of ``tiles`` keyed by XYZ (stored in TMS rows, as the format says)."""
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
        db.execute(
            "CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, tile_row INTEGER, tile_data BLOB)"
        )
        db.executemany("INSERT INTO metadata VALUES (?, ?)", metadata.items())
        db.executemany(
            "INSERT INTO tiles VALUES (?, ?, ?, ?)",
            [(z, x, (1 << z) - 1 - y, data) for (z, x, y), data in tiles.items()],
        )
    db.close()
    return path


AREA_ZOOM = 10
AREA_TILE = (AREA_ZOOM, 533, 362)
"""The one tile of the generated area package (in the Alps)."""
HALF = EXTENT // 2


def area_vector_tile() -> bytes:
    """An OpenMapTiles-schema tile: water on its west half, a wood, a road, a building, a town."""
    return vector_tile(
        {
            "water": [Feature(POLYGON, [(0, 0), (HALF, 0), (HALF, EXTENT), (0, EXTENT)], {"class": "lake"})],
            "landcover": [
                Feature(
                    POLYGON,
                    [(HALF + 200, 200), (EXTENT - 200, 200), (EXTENT - 200, 1200), (HALF + 200, 1200)],
                    {"class": "wood"},
                )
            ],
            "transportation": [Feature(LINESTRING, [(HALF, 3000), (EXTENT, 3000)], {"class": "primary"})],
            "building": [Feature(POLYGON, [(3000, 2000), (3400, 2000), (3400, 2400), (3000, 2400)])],
            "place": [Feature(POINT, [(3200, 1600)], {"class": "town", "name": "Testville"})],
        }
    )


def vector_mbtiles(
    path: Path, layers: Sequence[str] = ("water", "landcover", "transportation", "building", "place")
) -> Path:
    """A one-tile vector MBTiles (gzip-compressed tile, as tile tools store them)."""
    metadata = {
        "name": "test area",
        "format": "pbf",
        "minzoom": str(AREA_ZOOM),
        "maxzoom": str(AREA_ZOOM),
        "attribution": "test data",
        "json": json.dumps({"vector_layers": [{"id": name, "fields": {}} for name in layers]}),
    }
    return write_mbtiles(path, metadata, {AREA_TILE: gzip.compress(area_vector_tile())})


def raster_mbtiles(path: Path, rgb: tuple[int, int, int] = (200, 60, 60)) -> Path:
    """A one-tile raster MBTiles of a solid colour."""
    metadata = {"name": "test raster", "format": "png", "minzoom": str(AREA_ZOOM), "maxzoom": str(AREA_ZOOM)}
    return write_mbtiles(path, metadata, {AREA_TILE: png_tile(rgb)})

"""Offline basemap tiles for the web map, from an MBTiles file (``web_mbtiles``).

MBTiles is one SQLite file of tiles in TMS row order (y counted from the south), with a
``metadata`` table naming the format. The file is classified once at start-up, from its
metadata and its first tile, as raster images or OpenMapTiles-schema vector tiles: a file the
map cannot draw (unknown format, a format its tiles contradict, a vector schema the bundled
style does not know) is refused then, with one line saying why, instead of being decoded as
the wrong thing in the browser. Tiles are read in a worker thread through a read-only
connection; a missing tile is 204 (MapLibre draws nothing there) rather than an error.
"""

import json
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

import anyio.to_thread
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from rallypoint.errors import ConfigError

TILE_URL = "/api/tiles/{z}/{x}/{y}"
MAX_ZOOM = 24
TILE_CACHE_SECONDS = 86400
RASTER_TYPES = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "webp": "image/webp"}
VECTOR_TYPES = {"pbf": "application/x-protobuf", "mvt": "application/x-protobuf"}
OPENMAPTILES_LAYERS = frozenset(
    {"water", "waterway", "landcover", "landuse", "park", "transportation", "building", "place", "boundary"}
)
"""Source layers the command post's bundled vector style draws (the OpenMapTiles schema)."""
GZIP_MAGIC = b"\x1f\x8b"
_MAGIC = {b"\x89PNG": "png", b"\xff\xd8\xff": "jpg", b"RIFF": "webp", GZIP_MAGIC: "pbf"}


@dataclass(frozen=True)
class TileInfo:
    """What the map needs to know about the file to draw it."""

    kind: str
    """``raster`` or ``vector``."""
    minzoom: int
    maxzoom: int
    """Deepest zoom stored: the map overscales these tiles beyond it instead of asking for more."""
    bounds: tuple[float, float, float, float] | None
    """West, south, east, north in degrees, when the file says."""
    attribution: str


class MbTiles:
    """A read-only MBTiles file (thread-safe: one connection behind a lock)."""

    def __init__(self, path: Path) -> None:
        try:
            self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
            rows = self._db.execute("SELECT name, value FROM metadata").fetchall()
            first = self._db.execute("SELECT tile_data FROM tiles LIMIT 1").fetchone()
            zooms = self._db.execute("SELECT MIN(zoom_level), MAX(zoom_level) FROM tiles").fetchone()
        except sqlite3.Error as exc:
            raise ConfigError(f"web_mbtiles {path} is not a readable MBTiles file: {exc}") from exc
        self._lock = threading.Lock()
        metadata = {str(name): str(value) for name, value in rows}
        sniffed = _sniff(bytes(first[0])) if first else None
        self.format = _format(path, metadata.get("format", "").lower(), sniffed)
        if self.vector:
            _check_schema(path, metadata.get("json"))
        self.info = TileInfo(
            kind="vector" if self.vector else "raster",
            minzoom=_int(metadata.get("minzoom"), zooms[0] if zooms[0] is not None else 0),
            maxzoom=_int(metadata.get("maxzoom"), zooms[1] if zooms[1] is not None else MAX_ZOOM),
            bounds=_bounds(metadata.get("bounds")),
            attribution=metadata.get("attribution", ""),
        )

    @property
    def attribution(self) -> str:
        return self.info.attribution

    @property
    def vector(self) -> bool:
        """Vector tiles (drawn with the bundled style) rather than images."""
        return self.format in VECTOR_TYPES

    @property
    def media_type(self) -> str:
        return VECTOR_TYPES.get(self.format) or RASTER_TYPES[self.format]

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        """The tile at XYZ coordinates (blocking), or None."""
        row = (1 << z) - 1 - y
        with self._lock:
            found = self._db.execute(
                "SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?",
                (z, x, row),
            ).fetchone()
        return bytes(found[0]) if found else None

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            self._db.close()


def _sniff(data: bytes) -> str | None:
    """The format a tile's first bytes show; an uncompressed vector tile has no magic (None)."""
    for magic, name in _MAGIC.items():
        if data.startswith(magic):
            return name
    return None


def _format(path: Path, declared: str, sniffed: str | None) -> str:
    """The file's tile format, refusing one the map cannot draw or its tiles contradict."""
    if declared == "jpeg":
        declared = "jpg"
    if declared and declared not in RASTER_TYPES and declared not in VECTOR_TYPES:
        raise ConfigError(f"web_mbtiles {path}: unsupported tile format {declared!r} (png, jpg, webp or pbf)")
    if not declared:
        if sniffed is None:
            raise ConfigError(f"web_mbtiles {path}: no format in its metadata and its tiles are not images")
        return sniffed
    if sniffed is not None and (sniffed in VECTOR_TYPES) != (declared in VECTOR_TYPES):
        raise ConfigError(f"web_mbtiles {path}: metadata says {declared!r} but its tiles are {sniffed}")
    return declared


def _check_schema(path: Path, layers_json: str | None) -> None:
    """Refuse vector tiles whose declared layers the bundled style draws none of."""
    if layers_json is None:
        return
    try:
        declared = json.loads(layers_json).get("vector_layers", [])
        names = {str(layer["id"]) for layer in declared}
    except (ValueError, AttributeError, TypeError, KeyError) as exc:
        raise ConfigError(f"web_mbtiles {path}: unreadable vector_layers in its metadata: {exc}") from exc
    if names and not names & OPENMAPTILES_LAYERS:
        raise ConfigError(
            f"web_mbtiles {path}: vector layers {sorted(names)} are not the OpenMapTiles schema the"
            " map's style draws (water, landcover, transportation, building, place);"
            " use an OpenMapTiles or raster file"
        )


def _int(value: str | None, default: int) -> int:
    try:
        return int(float(value)) if value is not None else default
    except ValueError:
        return default


def _bounds(value: str | None) -> tuple[float, float, float, float] | None:
    try:
        west, south, east, north = (float(part) for part in (value or "").split(","))
    except ValueError:
        return None
    return (west, south, east, north)


def tile_routes(tiles: MbTiles) -> list[BaseRoute]:
    """``GET /api/tiles/{z}/{x}/{y}``."""

    async def tile(request: Request) -> Response:
        try:
            z, x, y = (int(request.path_params[key]) for key in ("z", "x", "y"))
        except ValueError as exc:
            raise HTTPException(400, "tile coordinates must be integers") from exc
        if not (0 <= z <= MAX_ZOOM and 0 <= x < (1 << z) and 0 <= y < (1 << z)):
            raise HTTPException(400, "tile coordinates out of range")
        data = await anyio.to_thread.run_sync(tiles.tile, z, x, y)
        if data is None:
            return Response(status_code=204)
        headers = {"cache-control": f"private, max-age={TILE_CACHE_SECONDS}"}
        if tiles.vector and data.startswith(GZIP_MAGIC):
            headers["content-encoding"] = "gzip"
        return Response(data, media_type=tiles.media_type, headers=headers)

    return [Route(TILE_URL, tile, methods=["GET"])]

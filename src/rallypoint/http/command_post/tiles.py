"""Offline basemap tiles for the web map, from an MBTiles file (``web_mbtiles``).

MBTiles is one SQLite file of tiles in TMS row order (y counted from the south), with a
``metadata`` table naming the format. Tiles are read in a worker thread through a read-only
connection; a missing tile is 204 (MapLibre draws nothing there) rather than an error.
"""

import sqlite3
import threading
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
_MEDIA_TYPES = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "pbf": "application/x-protobuf",
    "mvt": "application/x-protobuf",
}
GZIP_MAGIC = b"\x1f\x8b"


class MbTiles:
    """A read-only MBTiles file (thread-safe: one connection behind a lock)."""

    def __init__(self, path: Path) -> None:
        try:
            self._db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
            rows = self._db.execute("SELECT name, value FROM metadata").fetchall()
        except sqlite3.Error as exc:
            raise ConfigError(f"web_mbtiles {path} is not a readable MBTiles file: {exc}") from exc
        metadata = {str(name): str(value) for name, value in rows}
        self.format = metadata.get("format", "png").lower()
        if self.format not in _MEDIA_TYPES:
            raise ConfigError(f"web_mbtiles {path}: unsupported tile format {self.format!r}")
        self.attribution = metadata.get("attribution", "")
        self._lock = threading.Lock()

    @property
    def vector(self) -> bool:
        """Vector tiles (MapLibre needs a style for them) rather than images."""
        return self.format in ("pbf", "mvt")

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
        return Response(data, media_type=_MEDIA_TYPES[tiles.format], headers=headers)

    return [Route(TILE_URL, tile, methods=["GET"])]

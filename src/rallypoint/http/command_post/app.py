"""The web command post's application: the built page, its JSON API and its live socket.

``/`` is the page (``index.html``) and ``/assets/…`` its hashed files, both from the built UI
shipped in the package (``rallypoint/web/``). Every response carries a Content-Security-Policy
allowing only this origin (plus ``blob:`` workers, which MapLibre needs, and the configured
tile server), and cache headers: hashed assets are immutable, the page is revalidated. The
``/api`` routes pass through :class:`~rallypoint.http.command_post.auth.SessionGate` (login, CSRF,
Origin) and see the session's :class:`~rallypoint.http.common.deps.Caller`, so the missions routes
written for the Marti API serve the page unchanged.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from rallypoint.http.command_post.auth import SessionGate, SessionStore
from rallypoint.http.common.headers import SecurityHeaders

log = logging.getLogger(__name__)

INDEX = "index.html"
ASSETS = "assets"
PACKAGED_UI = Path(__file__).resolve().parents[2] / "web"
"""Where the built UI ships inside the package (Vite's ``outDir``)."""
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
NO_STORE = "no-store"


@dataclass(frozen=True)
class WebAppParts:
    """What the web app serves besides its static files."""

    sessions: SessionStore
    routes: Sequence[BaseRoute]
    """Login, data, packages, tiles, live socket, and the components' JSON routes."""
    assets_dir: Path
    tile_origin: str | None = None
    """``scheme://host[:port]`` of an online tile server the page may load from."""


def tile_origin(template: str) -> str | None:
    """The origin of a tile URL template, for the CSP (None when there is no template)."""
    if not template:
        return None
    parts = urlsplit(template.replace("{", "").replace("}", ""))
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def content_security_policy(extra_origin: str | None) -> str:
    """Only this origin, ``blob:`` workers and images, and the tile server if one is configured."""
    extra = f" {extra_origin}" if extra_origin else ""
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self' 'unsafe-inline'",  # MapLibre and milsymbol set style attributes
            f"img-src 'self' data: blob:{extra}",
            f"connect-src 'self'{extra}",
            "worker-src 'self' blob:",
            "child-src blob:",
            "font-src 'self' data:",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
            "form-action 'self'",
        ]
    )


class PageHeaders(SecurityHeaders):
    """The shared hardening headers plus the page's cache policy: assets immutable, API no-store."""

    def cache_control(self, path: str, headers: MutableHeaders) -> None:
        cache = IMMUTABLE if path.startswith(f"/{ASSETS}/") else REVALIDATE
        if path.startswith("/api/"):
            cache = NO_STORE
        if "cache-control" not in headers or cache == IMMUTABLE:
            headers["cache-control"] = cache


def build_web_app(parts: WebAppParts) -> ASGIApp:
    """The ASGI application of the web port."""
    index = parts.assets_dir / INDEX

    async def page(request: Request) -> Response:
        if not index.is_file():
            return PlainTextResponse("the web UI is not built into this installation", status_code=503)
        return FileResponse(index, media_type="text/html")

    routes: list[BaseRoute] = [
        *parts.routes,
        Route("/", page, methods=["GET", "HEAD"]),
        Route(f"/{INDEX}", page, methods=["GET", "HEAD"]),
        Mount(f"/{ASSETS}", StaticFiles(directory=parts.assets_dir / ASSETS, check_dir=False)),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: _http_error, Exception: _unexpected})
    gated = SessionGate(app, parts.sessions)
    return PageHeaders(gated, content_security_policy(parts.tile_origin))


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return JSONResponse(
        {"error": exc.detail, "status": exc.status_code}, status_code=exc.status_code, headers=exc.headers
    )


async def _unexpected(request: Request, exc: Exception) -> Response:
    """The outermost boundary of one request: log it, answer 500, keep serving."""
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"error": "internal error", "status": 500}, status_code=500)

"""The Starlette application of ports 8443 and 8080: Marti, history, operations, and extra routes.

Errors are JSON everywhere (``{"error": …, "status": …}``), so a client calling an optional
Marti endpoint we do not implement gets a clean 404 rather than an HTML page or a 500.
Who the caller is comes from the listener (:mod:`rallypoint.http.common.deps`), not from the request.
"""

import logging
from collections.abc import Awaitable, Callable, Sequence

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp

from rallypoint.http.common.deps import ApiDeps
from rallypoint.http.common.headers import SecurityHeaders
from rallypoint.http.common.ops import ops_routes
from rallypoint.http.marti.history import history_routes
from rallypoint.http.marti.iconset_routes import iconset_routes
from rallypoint.http.marti.locate import locate_routes
from rallypoint.http.marti.marti import marti_routes
from rallypoint.http.marti.profiles import profile_routes
from rallypoint.http.marti.repeater import repeater_routes
from rallypoint.http.marti.security import security_routes
from rallypoint.http.marti.takproto_ws import takproto_routes
from rallypoint.http.marti.video_routes import video_routes
from rallypoint.router.stats import Counters

__all__ = ["ApiDeps", "build_api_app"]

log = logging.getLogger(__name__)

REFUSED_STATUSES = frozenset({400, 403, 413, 429})
"""Client errors counted per status: bad or oversized bodies, refused authority, throttling."""


def _http_error(counters: Counters) -> Callable[[Request, Exception], Awaitable[Response]]:
    """Answer an HTTPException as JSON; count refusals (400, 403, 413, 429) so floods show in /metrics."""

    async def answer(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code >= 500:
            log.warning("%s %s: %d %s", request.method, request.url.path, exc.status_code, exc.detail)
        elif exc.status_code in REFUSED_STATUSES:
            counters.inc(f"http_refused{{port=api,reason=status_{exc.status_code}}}")
            log.info("%s %s refused: %d %s", request.method, request.url.path, exc.status_code, exc.detail)
        return JSONResponse(
            {"error": exc.detail, "status": exc.status_code}, status_code=exc.status_code, headers=exc.headers
        )

    return answer


async def _unexpected(request: Request, exc: Exception) -> Response:
    """The outermost boundary of one request: log it, answer 500, keep serving."""
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"error": "internal error", "status": 500}, status_code=500)


def build_api_app(deps: ApiDeps, extra_routes: Sequence[BaseRoute] = ()) -> ASGIApp:
    """The API application; ``extra_routes`` (data packages) are served beside ours."""
    routes = [
        *marti_routes(deps),
        *video_routes(deps),
        *profile_routes(deps),
        *iconset_routes(deps),
        *repeater_routes(deps),
        *security_routes(deps),
        *locate_routes(deps),
        *takproto_routes(deps),
        *history_routes(deps),
        *ops_routes(deps),
        *extra_routes,
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: _http_error(deps.counters), Exception: _unexpected},
    )
    return SecurityHeaders(app)

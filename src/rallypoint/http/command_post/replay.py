"""After-action replay: what happened in a time window, for the page's timeline and as files.

``GET /api/replay?start=&end=`` answers the window's positions, chat, objective changes,
alerts and roll call changes (:mod:`~rallypoint.http.command_post.replay_export`);
``/api/replay/export.geojson`` and ``/api/replay/export.kml`` give the same as a download.
Times are milliseconds or ISO 8601; without them the window is the last hour. Everything is
read as the caller's groups would have received it: stored events routed into those groups
(or directed to the caller), objectives of missions and roll calls sharing one of them. The
window and what it holds are bounded; a window holding more says ``truncated``.
"""

import json
from collections.abc import Callable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from rallypoint.cot.xml import XmlLimits
from rallypoint.http.command_post.replay_export import geojson, kml, timeline
from rallypoint.http.common.deps import ApiDeps, caller_of
from rallypoint.http.common.query import time_param
from rallypoint.missions.history import objective_changes, rollcall_changes
from rallypoint.store.base import EventQuery

DEFAULT_WINDOW_MS = 3600 * 1000
MAX_WINDOW_MS = 7 * 24 * 3600 * 1000
"""A week: an incident's whole first period, and a bound on what one request reads."""
MAX_EVENTS = 20_000
"""Stored events one replay holds at most (positions, chat and alerts together)."""
MAX_JOURNAL_CHANGES = 5_000
"""Objective changes, and roll call changes, one replay holds at most."""


def replay_routes(api: ApiDeps, limits: XmlLimits) -> list[BaseRoute]:
    """``/api/replay`` and its two exports."""

    async def window(request: Request) -> dict[str, Any]:
        caller = caller_of(request)
        now = api.now_ms()
        end = time_param(request, "end") or now
        start = time_param(request, "start")
        start = end - DEFAULT_WINDOW_MS if start is None else start
        if not 0 <= end - start <= MAX_WINDOW_MS:
            raise HTTPException(400, "start must be before end, at most 7 days apart")
        store = api.store() if api.store is not None else None
        if store is None:
            raise HTTPException(503, "event history is not available")
        found = await store.query_events(
            EventQuery(start=start, end=end, groups=caller.groups, reader=caller.name, limit=MAX_EVENTS + 1)
        )
        objectives = await objective_changes(store, caller.groups, start, end, MAX_JOURNAL_CHANGES)
        data = timeline(found[:MAX_EVENTS], objectives, start, end, limits, truncated=len(found) > MAX_EVENTS)
        data["rollcalls"] = await rollcall_changes(store, caller.groups, start, end, MAX_JOURNAL_CHANGES)
        return data

    async def show(request: Request) -> Response:
        return JSONResponse(await window(request))

    def export(suffix: str, media_type: str, render: Callable[[dict[str, Any]], str]) -> Route:
        async def download(request: Request) -> Response:
            data = await window(request)
            name = f"rallypoint-replay-{data['start']}-{data['end']}.{suffix}"
            return Response(
                render(data),
                media_type=media_type,
                headers={"Content-Disposition": f'attachment; filename="{name}"'},
            )

        return Route(f"/api/replay/export.{suffix}", download, methods=["GET"])

    return [
        Route("/api/replay", show, methods=["GET"]),
        export("geojson", "application/geo+json", lambda data: json.dumps(geojson(data))),
        export("kml", "application/vnd.google-earth.kml+xml", kml),
    ]


__all__ = ["replay_routes"]

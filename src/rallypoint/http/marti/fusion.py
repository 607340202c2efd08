"""REST endpoints of the fusion service: tracks with provenance, aliases, feeds, GeoJSON push.

- ``GET /api/tracks``: fused tracks routed to one of the caller's groups, each with its
  sources (kind, identity, newest report, error estimate, count).
- ``GET /api/fusion/aliases`` / ``PUT /api/fusion/aliases`` ``{"identity", "target"}``: the
  cross-identity map ("this AIS vessel is team Rescue-3"); ``target`` null removes an alias.
- ``GET /api/feeds``: state of the feeds whose tracks the caller receives.
- ``POST /api/feeds/{name}/geojson``: a Feature or FeatureCollection for a ``geojson`` feed;
  the answer counts what was accepted and why the rest was not.

Each answer uses TAK's JSON envelope.
"""

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from rallypoint.errors import FeedError, FusionError
from rallypoint.fusion.feeds.geojson import MAX_BODY_BYTES
from rallypoint.fusion.service import FusionService
from rallypoint.http.common.deps import caller_of, envelope
from rallypoint.http.common.query import parse_json, read_body

MAX_ALIAS_BODY_BYTES = 4096
"""An alias request is two identities."""


def fusion_routes(service: FusionService) -> list[BaseRoute]:
    """The fusion endpoints bound to ``service``."""
    node = service.host.settings.server_id

    async def tracks(request: Request) -> Response:
        caller = caller_of(request)
        return JSONResponse(envelope("FusedTrack", service.tracks_for(caller.groups), node))

    async def aliases(request: Request) -> Response:
        caller_of(request)
        return JSONResponse(envelope("FusionAliases", service.aliases(), node))

    async def put_alias(request: Request) -> Response:
        caller = caller_of(request)
        body = parse_json(await read_body(request, MAX_ALIAS_BODY_BYTES))
        if not isinstance(body, dict):
            raise HTTPException(400, 'body must be {"identity": "...", "target": "..." or null}')
        identity, target = body.get("identity"), body.get("target")
        if not isinstance(identity, str) or not (target is None or isinstance(target, str)):
            raise HTTPException(400, 'body must be {"identity": "...", "target": "..." or null}')
        try:
            await service.set_alias(identity, target, caller.name)
        except FusionError as exc:
            raise HTTPException(400, str(exc)) from exc
        return JSONResponse(envelope("FusionAliases", service.aliases(), node))

    async def feeds(request: Request) -> Response:
        caller = caller_of(request)
        return JSONResponse(envelope("Feed", service.feeds_for(caller.groups), node))

    async def push_geojson(request: Request) -> Response:
        caller = caller_of(request)
        name = request.path_params["name"]
        feed = service.push_feeds.get(name)
        if feed is None or not feed.feed.groups & caller.groups:
            raise HTTPException(404, f"no geojson feed named {name!r}")
        body = await read_body(request, MAX_BODY_BYTES)
        try:
            decoded = service.push(name, body)
        except FeedError as exc:
            raise HTTPException(404, str(exc)) from exc
        result = {"accepted": len(decoded.reports), "rejected": list(decoded.errors)}
        if not decoded.reports and decoded.errors:
            return JSONResponse(envelope("FeedPush", result, node), status_code=400)
        return JSONResponse(envelope("FeedPush", result, node))

    return [
        Route("/api/tracks", tracks, methods=["GET"]),
        Route("/api/fusion/aliases", aliases, methods=["GET"]),
        Route("/api/fusion/aliases", put_alias, methods=["PUT"]),
        Route("/api/feeds", feeds, methods=["GET"]),
        Route("/api/feeds/{name}/geojson", push_geojson, methods=["POST"]),
    ]

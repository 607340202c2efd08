"""Markers and shapes drawn on the command post's map, sent to the TAK clients as CoT.

``POST /api/drawings`` places a spot marker or draws a polygon, line, rectangle or circle;
``PUT /api/drawings/{uid}`` replaces one (same uid: every map updates it in place);
``DELETE /api/drawings/{uid}`` removes it with a ``t-x-d-d`` and ``__forcedelete``. Each is
routed as if the user's own TAK client had sent it: into the session's groups only, into the
situation cache (replayed to clients that connect later) and the store. A drawing the user's
groups cannot see is unknown (404); one another identity owns (anti-spoofing) is refused
(403) before routing, so the page says why instead of the router dropping it silently.
"""

import uuid

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from rallypoint.cot.drawing import KIND_TYPES, MAX_POINTS, Creator, Drawing, delete_event, drawing_event
from rallypoint.cot.event import Event
from rallypoint.cot.shapes import is_drawing_type
from rallypoint.cot.xml import serialize_event
from rallypoint.errors import InvalidEvent
from rallypoint.http.command_post.auth import web_uid
from rallypoint.http.command_post.login import Audit, read_json
from rallypoint.http.common.deps import ApiDeps, Caller, caller_of
from rallypoint.router.cache import CacheEntry

MAX_DRAWING_BODY_BYTES = 64 * 1024
"""The largest shape (500 vertices as JSON numbers) is about 25 KiB."""
MAX_UID_CHARS = 128
DEFAULT_COLOUR = 0xFFFF0000
"""Red, ATAK's default spot marker colour."""


def drawing_from_json(body: dict[str, object]) -> Drawing:
    """The page's ``{"kind","points":[[lon,lat],…],"label","colour":"#rrggbb","radius","remarks"}``."""
    kind, label, remarks = body.get("kind"), body.get("label"), body.get("remarks", "")
    if not isinstance(kind, str) or kind not in KIND_TYPES:
        raise InvalidEvent(f"kind is one of {', '.join(sorted(KIND_TYPES))}")
    if not isinstance(label, str) or not isinstance(remarks, str):
        raise InvalidEvent("label and remarks are strings")
    return Drawing(
        kind=kind,
        points=_points(body.get("points")),
        label=label,
        colour=_colour(body.get("colour")),
        radius_m=_number(body.get("radius", 0), "radius"),
        remarks=remarks,
    )


def _points(value: object) -> tuple[tuple[float, float], ...]:
    if not isinstance(value, list):
        raise InvalidEvent("points is a list of [lon, lat] pairs")
    if len(value) > MAX_POINTS:
        raise InvalidEvent(f"a drawing has at most {MAX_POINTS} points")
    points: list[tuple[float, float]] = []
    for pair in value:
        if not isinstance(pair, list) or len(pair) != 2:
            raise InvalidEvent("points is a list of [lon, lat] pairs")
        lon, lat = _number(pair[0], "a longitude"), _number(pair[1], "a latitude")
        points.append((lat, lon))
    return tuple(points)


def _number(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidEvent(f"{name} is a number")
    return float(value)


def _colour(value: object) -> int:
    if value is None:
        return DEFAULT_COLOUR
    text = value[1:] if isinstance(value, str) and value.startswith("#") else None
    if text is None or len(text) != 6 or any(c not in "0123456789abcdefABCDEF" for c in text):
        raise InvalidEvent("colour is #rrggbb")
    return 0xFF000000 | int(text, 16)


def drawing_routes(api: ApiDeps, audit: Audit = lambda kind, **fields: None) -> list[BaseRoute]:
    """``/api/drawings`` (create) and ``/api/drawings/{uid}`` (replace, delete)."""

    def send(caller: Caller, drawing: Drawing, uid: str, kind: str) -> Response:
        """Build the drawing's event as the caller's and route it; 400 if it is not a sound drawing."""
        assert caller.name is not None
        creator = Creator(web_uid(caller.name), caller.name)
        try:
            event: Event = drawing_event(drawing, uid=uid, creator=creator, now_ms=api.now_ms())
        except InvalidEvent as exc:
            raise HTTPException(400, str(exc)) from exc
        delivered = api.submit(caller, event, serialize_event(event))
        audit(kind, user=caller.name, uid=uid, type=event.type, delivered=delivered)
        return JSONResponse({"uid": uid, "type": event.type, "delivered": delivered})

    async def create(request: Request) -> Response:
        caller = caller_of(request)
        drawing = await _read_drawing(request)
        return send(caller, drawing, str(uuid.uuid4()), "drawing_created")

    async def replace(request: Request) -> Response:
        caller = caller_of(request)
        uid = request.path_params["uid"]
        _editable(api, caller, uid)
        drawing = await _read_drawing(request)
        return send(caller, drawing, uid, "drawing_changed")

    async def delete(request: Request) -> Response:
        caller = caller_of(request)
        uid = request.path_params["uid"]
        entry = _editable(api, caller, uid)
        event = delete_event(uid, entry.message.event.type, uid=str(uuid.uuid4()), now_ms=api.now_ms())
        delivered = api.submit(caller, event, serialize_event(event))
        audit("drawing_deleted", user=caller.name, uid=uid, delivered=delivered)
        return JSONResponse({"uid": uid, "delivered": delivered})

    return [
        Route("/api/drawings", create, methods=["POST"]),
        Route("/api/drawings/{uid}", replace, methods=["PUT"]),
        Route("/api/drawings/{uid}", delete, methods=["DELETE"]),
    ]


async def _read_drawing(request: Request) -> Drawing:
    body = await read_json(request, MAX_DRAWING_BODY_BYTES)
    try:
        return drawing_from_json(body)
    except InvalidEvent as exc:
        raise HTTPException(400, str(exc)) from exc


def _editable(api: ApiDeps, caller: Caller, uid: str) -> CacheEntry:
    """The cached drawing ``uid`` if the caller may change it: 404 unseen, 403 someone else's."""
    if len(uid) > MAX_UID_CHARS:
        raise HTTPException(404, "no such drawing")
    entry = api.router.cache.get(uid)
    visible = entry is not None and not entry.groups.isdisjoint(caller.groups)
    if entry is None or not visible or not is_drawing_type(entry.message.event.type):
        raise HTTPException(404, "no such drawing")
    owner = api.router.ownership.uid_owner(uid)
    if owner is not None and owner != caller.name:
        raise HTTPException(403, "drawn by someone else: only its author may change it")
    return entry


__all__ = ["drawing_from_json", "drawing_routes"]

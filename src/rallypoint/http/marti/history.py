"""The history API: stored events by time, uid, type prefix and box, and one uid's track.

``GET /api/history/events`` answers JSON (default) or CoT XML (``format=xml``, the events
inside ``<events>…</events>`` as ``/Marti/api/cot/xml/{uid}/all`` does);
``GET /api/history/track/{uid}`` answers a GeoJSON Feature whose LineString holds the
positions in time order as ``[lon, lat, hae]`` (GeoJSON's axis order). Only events routed
into one of the caller's groups are returned: the store filters by group, not this module.
"""

from collections.abc import Iterable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from rallypoint.http.common.deps import ApiDeps, caller_of
from rallypoint.http.common.query import bbox_param, int_param, time_param, time_text
from rallypoint.store.base import EventQuery, EventStore, StoredEvent

DEFAULT_LIMIT = 1000
MAX_LIMIT = 10_000
"""Events one history request returns at most: bounds the response and the query."""
MAX_TRACK_POINTS = 10_000
"""Positions in one track (a day of reports every 10 s)."""
XML_DECLARATION_START = b"<?xml"


def require_store(deps: ApiDeps) -> EventStore:
    """The open store, or 503 (closed, or this server keeps no history)."""
    store = deps.store() if deps.store is not None else None
    if store is None:
        raise HTTPException(503, "event history is not available")
    return store


def bare_event(xml: bytes) -> bytes:
    """An event's XML without its declaration, ready to be nested in ``<events>``."""
    xml = xml.strip()
    if xml.startswith(XML_DECLARATION_START):
        end = xml.find(b"?>")
        if end != -1:
            xml = xml[end + 2 :].lstrip()
    return xml


def events_xml(events: Iterable[bytes]) -> bytes:
    """``<events>`` wrapping each event (declarations removed), as TAK Server answers."""
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<events>' + b"".join(map(bare_event, events)) + b"</events>"
    )


def event_json(event: StoredEvent) -> dict[str, Any]:
    """One stored event as JSON; times as ISO 8601 with milliseconds."""
    return {
        "uid": event.uid,
        "type": event.type,
        "time": time_text(event.time),
        "stale": time_text(event.stale),
        "lat": event.lat,
        "lon": event.lon,
        "hae": event.hae,
        "sender": event.sender,
    }


def track_feature(uid: str, events: Iterable[StoredEvent]) -> dict[str, Any]:
    """A GeoJSON Feature: LineString of ``[lon, lat, hae]`` in time order, and the times."""
    ordered = sorted(events, key=lambda event: event.time)
    return {
        "type": "Feature",
        "geometry": {
            "type": "LineString",
            "coordinates": [[event.lon, event.lat, event.hae] for event in ordered],
        },
        "properties": {"uid": uid, "times": [time_text(event.time) for event in ordered]},
    }


def history_routes(deps: ApiDeps) -> list[BaseRoute]:
    """``/api/history/events`` and ``/api/history/track/{uid}``."""

    async def events(request: Request) -> Response:
        caller = caller_of(request)
        form = request.query_params.get("format", "json")
        if form not in ("json", "xml"):
            raise HTTPException(400, "format must be json or xml")
        found = await require_store(deps).query_events(
            EventQuery(
                start=time_param(request, "start"),
                end=time_param(request, "end"),
                uid=request.query_params.get("uid") or None,
                type_prefix=request.query_params.get("type") or None,
                bbox=bbox_param(request),
                groups=caller.groups,
                reader=caller.name,
                limit=int_param(request, "limit", DEFAULT_LIMIT, low=1, high=MAX_LIMIT),
            )
        )
        if form == "xml":
            return Response(events_xml(event.xml for event in found), media_type="application/xml")
        return JSONResponse({"count": len(found), "events": [event_json(event) for event in found]})

    async def track(request: Request) -> Response:
        caller = caller_of(request)
        uid = request.path_params["uid"]
        found = await require_store(deps).query_events(
            EventQuery(
                start=time_param(request, "start"),
                end=time_param(request, "end"),
                uid=uid,
                groups=caller.groups,
                reader=caller.name,
                limit=MAX_TRACK_POINTS,
            )
        )
        if not found:
            raise HTTPException(404, f"no stored positions of uid {uid!r}")
        return JSONResponse(track_feature(uid, found), media_type="application/geo+json")

    return [
        Route("/api/history/events", events, methods=["GET"]),
        Route("/api/history/track/{uid}", track, methods=["GET"]),
    ]

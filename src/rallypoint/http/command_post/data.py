"""The web command post's JSON endpoints: configuration, contacts, tracks, chat and alerts.

Everything is filtered by the session's groups, the way a TAK client of the same user would
be served: contacts come from the situation cache entries the groups may see, a track from the
stored events routed into those groups, and a chat goes out as the user into them.
"""

from collections.abc import Callable
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from rallypoint.cot import types
from rallypoint.cot.event import Event
from rallypoint.cot.xml import serialize_event
from rallypoint.http.command_post.auth import web_uid
from rallypoint.http.command_post.chat import MAX_CHAT_CHARS, chat_event, chat_json
from rallypoint.http.command_post.contacts import emergency_device, visible_contacts
from rallypoint.http.command_post.live import LiveHub
from rallypoint.http.command_post.login import Audit, read_json
from rallypoint.http.command_post.tiles import TileInfo
from rallypoint.http.common.deps import ApiDeps, Caller, caller_of
from rallypoint.http.common.query import int_param
from rallypoint.http.marti.history import require_store, track_feature
from rallypoint.store.base import EventQuery

DEFAULT_TRACK_MINUTES = 30
MAX_TRACK_MINUTES = 24 * 60
MAX_TRACK_POINTS = 10_000
MAX_CHAT_BODY_BYTES = 16 * 1024
MINUTE_MS = 60_000


@dataclass(frozen=True)
class TileConfig:
    """What ``/api/config`` tells the map about basemap tiles."""

    url: str | None
    """An online ``{z}/{x}/{y}`` template, or None."""
    local: str | None
    """The server's own tile URL template when an MBTiles file is configured, or None."""
    attribution: str
    local_info: TileInfo | None = None
    """How to draw the local tiles (raster or vector, zooms, bounds)."""

    def as_json(self) -> dict[str, object]:
        """The ``tiles`` member of ``/api/config``."""
        local: dict[str, object] | None = None
        if self.local is not None and self.local_info is not None:
            info = self.local_info
            local = {"url": self.local, "kind": info.kind, "minzoom": info.minzoom, "maxzoom": info.maxzoom}
            local["bounds"] = list(info.bounds) if info.bounds is not None else None
        return {"url": self.url, "local": local, "attribution": self.attribution}


def data_routes(
    api: ApiDeps, hub: LiveHub, tiles: Callable[[], TileConfig], audit: Audit = lambda kind, **fields: None
) -> list[BaseRoute]:
    """``/api/config``, ``/api/contacts``, ``/api/contacts/{uid}/track``, ``/api/chat``, alert ack."""

    async def config(request: Request) -> Response:
        caller = caller_of(request)
        assert caller.name is not None
        tile = tiles()
        return JSONResponse(
            {
                "tiles": tile.as_json(),
                "server": api.server_version,
                "callsign": caller.name,
                "uid": web_uid(caller.name),
            }
        )

    async def contacts(request: Request) -> Response:
        caller = caller_of(request)
        return JSONResponse(visible_contacts(api.router.cache, caller.groups, api.now_ms()))

    async def track(request: Request) -> Response:
        caller = caller_of(request)
        uid = request.path_params["uid"]
        minutes = int_param(request, "minutes", DEFAULT_TRACK_MINUTES, low=1, high=MAX_TRACK_MINUTES)
        found = await require_store(api).query_events(
            EventQuery(
                start=api.now_ms() - minutes * MINUTE_MS,
                end=None,
                uid=uid,
                groups=caller.groups,
                limit=MAX_TRACK_POINTS,
            )
        )
        positions = [
            event for event in found if not types.is_control(event.type) and event.type != types.DELETE
        ]
        return JSONResponse(track_feature(uid, positions), media_type="application/geo+json")

    async def chat(request: Request) -> Response:
        caller = caller_of(request)
        assert caller.name is not None
        body = await read_json(request, MAX_CHAT_BODY_BYTES)
        to, text = body.get("to"), body.get("text")
        if not isinstance(to, str) or not to or not isinstance(text, str) or not text.strip():
            raise HTTPException(400, "to and text (non-empty strings) are required")
        if len(text) > MAX_CHAT_CHARS:
            raise HTTPException(413, f"a message holds at most {MAX_CHAT_CHARS} characters")
        sender = web_uid(caller.name)
        now = api.now_ms()
        if to == types.ALL_CHAT_ROOMS:
            event = chat_event(sender, caller.name, text, now)
        else:
            event = chat_event(sender, caller.name, text, now, to_uid=to, to_callsign=_callsign_of(api, to))
        delivered = api.submit(caller, event, serialize_event(event))
        message = chat_json(event)
        assert message is not None
        hub.publish_chat(caller.name, message)
        return JSONResponse({"id": event.uid, "delivered": delivered})

    async def acknowledge(request: Request) -> Response:
        """Acknowledge an alert for the caller; an emergency's device is told who saw it."""
        caller = caller_of(request)
        assert caller.name is not None
        uid = request.path_params["uid"]
        event = hub.acknowledge(caller.name, uid, caller.groups)
        if event is None:
            raise HTTPException(404, f"no active alert {uid!r}")
        device, delivered = _tell_device(api, hub, caller, event)
        audit("alert_acknowledged", user=caller.name, alert=uid, device=device, told=delivered > 0)
        return JSONResponse({"uid": uid, "acknowledged": True, "device": device, "delivered": delivered})

    return [
        Route("/api/config", config, methods=["GET"]),
        Route("/api/contacts", contacts, methods=["GET"]),
        Route("/api/contacts/{uid}/track", track, methods=["GET"]),
        Route("/api/chat", chat, methods=["POST"]),
        Route("/api/alerts/{uid}/ack", acknowledge, methods=["POST"]),
    ]


def _tell_device(api: ApiDeps, hub: LiveHub, caller: Caller, event: Event) -> tuple[str | None, int]:
    """Send the device that raised an emergency a GeoChat saying who acknowledged it (a TAK
    client shows it like any direct message); (its uid or None, clients it was handed to)."""
    device = emergency_device(event) if types.is_emergency(event.type) else None
    if device is None or caller.name is None:
        return None, 0
    text, to_callsign = acknowledgement_text(event, caller.name), _callsign_of(api, device)
    sender, now = web_uid(caller.name), api.now_ms()
    reply = chat_event(sender, caller.name, text, now, to_uid=device, to_callsign=to_callsign)
    delivered = api.submit(caller, reply, serialize_event(reply))
    message = chat_json(reply)
    if message is not None:
        hub.publish_chat(caller.name, message)
    return device, delivered


def acknowledgement_text(event: Event, user: str) -> str:
    """The GeoChat line a device in distress gets back: what was seen, and by whom."""
    emergency = event.detail.emergency if event.detail else None
    kind = emergency.type if emergency is not None and emergency.type else "Emergency"
    return f"{kind} acknowledged by {user} at the command post"


def _callsign_of(api: ApiDeps, uid: str) -> str | None:
    """The callsign a contact uses now: its connection's, else its latest cached report's."""
    subscriber = api.router.registry.by_uid(uid)
    if subscriber is not None and subscriber.callsign:
        return subscriber.callsign
    entry = api.router.cache.get(uid)
    return entry.message.event.callsign if entry is not None else None


__all__ = ["TileConfig", "data_routes"]

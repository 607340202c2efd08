"""The Marti REST endpoints TAK clients and pytak call (reference §4.1-4.3), minus data packages.

Everything a caller sees is filtered by its groups, exactly as the stream filters what it
receives: clientEndPoints lists the connected clients that share a group with the caller,
the latest-event and SA calls read only cache entries whose groups intersect the caller's,
and history reads only stored events routed into one of its groups. A posted event is
routed as if the caller had sent it on a stream (same anti-spoofing, same groups).

Posting CoT: ``POST /Marti/api/cot`` takes one CoT XML event as the body (Rallypoint's
path); ``POST /Marti/api/injectors/cot/uid`` takes pytak's JSON ``{"uid", "toInject"}``
and routes it when ``toInject`` is an event, else stores a TAK Server injector
(:mod:`rallypoint.http.marti.injectors`).
"""

import time
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from rallypoint.cot.xml import XmlLimits, parse_event
from rallypoint.errors import FrameTooLarge, ProtocolError
from rallypoint.http.common.deps import API_VERSION, ApiDeps, Caller, caller_of, envelope
from rallypoint.http.common.query import parse_json, read_body, time_param
from rallypoint.http.marti.history import events_xml, require_store
from rallypoint.http.marti.injectors import InjectorBook, InjectorRoutes, injector_routes
from rallypoint.router.cache import CacheEntry
from rallypoint.router.registry import Subscriber
from rallypoint.store.base import EventQuery

XML_MEDIA_TYPE = "application/xml"
CLIENT_ENDPOINT_TYPE = "com.bbn.marti.remote.ClientEndpoint"
CONNECTED = "Connected"
GROUP_TYPE = "SYSTEM"
INJECT_JSON_OVERHEAD = 4096
"""Room for pytak's JSON wrapping (``uid``, quoting, escapes) around an event of the maximum size."""
MAX_GROUPS_BODY_BYTES = 64 * 1024
"""A ``groups/active`` body: a few hundred groups at most."""
MAX_GROUP_TIMES = 10_000
"""Groups whose first-served time is remembered in memory (a deployment has tens of them)."""
MAX_UID_HISTORY = 10_000
"""Events ``/cot/xml/{uid}/all`` returns at most (a day of 10 s position reports)."""


def java_millis_time(millis: int) -> str:
    """``yyyy-MM-dd'T'HH:mm:ss.S'Z'`` as Java writes it: milliseconds unpadded (``.5``, ``.123``)."""
    seconds, ms = divmod(millis, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{ms}Z"


def java_date(millis: int) -> str:
    """``yyyy-MM-dd`` (UTC), the shape of TAK Server's ``Group.created``."""
    return time.strftime("%Y-%m-%d", time.gmtime(millis // 1000))


def _config_version(server_version: str) -> str:
    """``Rallypoint 0.4.0`` -> ``0.4.0``: the ``data.version`` of ``/version/config``."""
    return server_version.split(" ", 1)[-1]


class Marti:
    """The handlers, sharing the server's router, settings and store."""

    def __init__(self, deps: ApiDeps, injectors: InjectorRoutes) -> None:
        self.deps = deps
        self.injectors = injectors.book
        self.injector_answers = injectors
        self._group_created: dict[str, int] = {}
        """When each group was first served, as the store keeps it (read once per group)."""
        settings = deps.settings
        self.limits = XmlLimits(max_event_bytes=settings.max_event_bytes, max_depth=settings.max_xml_depth)

    async def version(self, request: Request) -> Response:
        caller_of(request)
        return PlainTextResponse(self.deps.server_version)

    async def version_config(self, request: Request) -> Response:
        caller_of(request)
        data = {
            "version": _config_version(self.deps.server_version),
            "api": API_VERSION,
            "hostname": request.url.hostname or self.deps.settings.hostname_list[0],
        }
        return JSONResponse(envelope("ServerConfig", data, self.deps.settings.server_id))

    async def client_endpoints(self, request: Request) -> Response:
        """Connected clients that share a group with the caller (only those with a known uid)."""
        caller = caller_of(request)
        rows = [
            {
                "callsign": client.callsign or "",
                "uid": client.uid,
                "username": client.identity or "",
                "team": client.team or "",
                "role": client.role or "",
                "lastEventTime": java_millis_time(client.last_seen),
                "lastStatus": CONNECTED,
            }
            for client in self.deps.router.registry.clients()
            if client.uid is not None and not client.groups.isdisjoint(caller.groups)
        ]
        rows.sort(key=lambda row: (str(row["callsign"]), str(row["uid"])))
        return JSONResponse(envelope(CLIENT_ENDPOINT_TYPE, rows, self.deps.settings.server_id))

    async def groups(self, request: Request) -> Response:
        """The caller's groups, each in both directions (it sends into and receives from all);
        ``created`` is the day the server first served the group, kept across restarts."""
        caller = caller_of(request)
        created = await self._created(sorted(caller.groups))
        rows: list[dict[str, Any]] = [
            {
                "name": name,
                "direction": direction,
                "type": GROUP_TYPE,
                "bitpos": position,
                "active": True,
                "description": "",
                "created": java_date(created[name]),
            }
            for position, name in enumerate(sorted(caller.groups))
            for direction in ("IN", "OUT")
        ]
        return JSONResponse(envelope("com.bbn.marti.remote.groups.Group", rows, self.deps.settings.server_id))

    async def _created(self, names: list[str]) -> dict[str, int]:
        """When each group was first served: from memory, else from the store (which keeps the
        new ones as now); without a store, now."""
        now = self.deps.now_ms()
        missing = [name for name in names if name not in self._group_created]
        store = self.deps.store() if self.deps.store is not None else None
        found = await store.group_created(missing, now) if missing and store is not None else {}
        if len(self._group_created) + len(found) <= MAX_GROUP_TIMES:
            self._group_created.update(found)
        return {name: self._group_created.get(name) or found.get(name) or now for name in names}

    async def contacts(self, request: Request) -> Response:
        """``/contacts/all``: connected clients sharing a group with the caller, TAK's
        RemoteSubscription shape (a plain JSON list, no envelope)."""
        caller = caller_of(request)
        rows = [
            {
                "uid": client.uid,
                "callsign": client.callsign or "",
                "team": client.team or "",
                "role": client.role or "",
                "takv": "",
                "notes": client.address,
                "filterGroups": sorted(client.groups & caller.groups),
            }
            for client in self.deps.router.registry.clients()
            if client.uid is not None and not client.groups.isdisjoint(caller.groups)
        ]
        rows.sort(key=lambda row: (str(row["callsign"]), str(row["uid"])))
        return JSONResponse(rows)

    async def set_active_groups(self, request: Request) -> Response:
        """``PUT /groups/active?clientUid=``: one of the caller's devices chooses which of the
        caller's groups it sends into (``IN``) and receives from (``OUT``). Groups the caller is
        not in are ignored: a device can narrow its groups, never widen them. Without
        ``clientUid`` (node-tak, CloudTAK) the choice applies to every connected device of the
        caller, as TAK Server changes the user's active groups; an anonymous caller has no
        user to change."""
        caller = caller_of(request)
        uid = request.query_params.get("clientUid", "")
        devices = self._devices_of(caller, uid)
        body = await read_body(request, MAX_GROUPS_BODY_BYTES)
        rows = parse_json(body)
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            raise HTTPException(400, "body must be a JSON list of groups")
        chosen: dict[str, set[str]] = {"IN": set(), "OUT": set()}
        for row in rows:
            name, direction = row.get("name"), row.get("direction")
            if row.get("active") is True and name in caller.groups and direction in chosen:
                chosen[direction].add(name)
        for subscriber in devices:
            self.deps.router.regroup(
                subscriber, frozenset(chosen["IN"]), frozenset(chosen["OUT"]), self.deps.now_ms()
            )
        return JSONResponse(envelope("com.bbn.marti.remote.groups.Group", rows, self.deps.settings.server_id))

    def _devices_of(self, caller: Caller, uid: str) -> list[Subscriber]:
        """The caller's receiving device ``uid``, or all of them without a uid (404 if none)."""
        if not uid:
            if caller.name is None:
                raise HTTPException(403, "an anonymous caller must name its device (clientUid)")
            reachable = self.deps.router.registry.reachable_from(caller.groups)
            mine = [s for s in reachable if s.identity == caller.name and s.receives]
            return sorted(mine, key=lambda s: s.id)
        subscriber = self.deps.router.registry.by_uid(uid)
        if subscriber is None or subscriber.identity != caller.name or not subscriber.receives:
            raise HTTPException(404, f"no connected device {uid!r} of this user")
        return [subscriber]

    def _visible(self, caller: Caller, entry: CacheEntry | None, now: int) -> bool:
        return entry is not None and entry.expires > now and not entry.groups.isdisjoint(caller.groups)

    async def latest(self, request: Request) -> Response:
        """The latest cached event of one uid, if the caller may see it (404 otherwise)."""
        caller = caller_of(request)
        uid = request.path_params["uid"]
        entry = self.deps.router.cache.get(uid)
        if not self._visible(caller, entry, self.deps.now_ms()):
            raise HTTPException(404, f"no current event for uid {uid!r}")
        assert entry is not None
        return Response(entry.message.xml, media_type=XML_MEDIA_TYPE)

    async def uid_history(self, request: Request) -> Response:
        """Stored events of one uid between ``start`` and ``end``, as ``<events>…</events>``."""
        caller = caller_of(request)
        store = require_store(self.deps)
        events = await store.query_events(
            EventQuery(
                start=time_param(request, "start"),
                end=time_param(request, "end"),
                uid=request.path_params["uid"],
                groups=caller.groups,
                reader=caller.name,
                limit=MAX_UID_HISTORY,
            )
        )
        return Response(events_xml(event.xml for event in events), media_type=XML_MEDIA_TYPE)

    async def situation(self, request: Request) -> Response:
        """Current cached events the caller may see whose time is within ``start``..``end``
        (what pytak's ``MartiRXWorker`` polls)."""
        caller = caller_of(request)
        start, end = time_param(request, "start"), time_param(request, "end")
        now = self.deps.now_ms()
        chosen = [
            message.xml
            for message in self.deps.router.cache.visible_to(caller.groups, now)
            if (start is None or message.event.time >= start) and (end is None or message.event.time <= end)
        ]
        return Response(events_xml(chosen), media_type=XML_MEDIA_TYPE)

    async def post_cot(self, request: Request) -> Response:
        """One CoT XML event as the body, routed as from the caller."""
        caller = caller_of(request)
        body = await read_body(request, self.deps.settings.max_event_bytes)
        return self._route(caller, body)

    async def inject(self, request: Request) -> Response:
        """pytak's ``MartiTXWorker`` (``{"uid": <its uid>, "toInject": "<event …/>"}``) is routed;
        TAK Server's injector (``{"uid", "toInject": "tag attr=…"}``) is set by an administrator."""
        caller = caller_of(request)
        body = await read_body(request, self.deps.settings.max_event_bytes + INJECT_JSON_OVERHEAD)
        document = parse_json(body)
        xml = document.get("toInject") if isinstance(document, dict) else None
        if not isinstance(xml, str):
            raise HTTPException(400, 'JSON body must have a "toInject" string')
        if xml.lstrip().startswith("<"):
            return self._route(caller, xml.encode())
        assert isinstance(document, dict)
        await self.injectors.add(caller, document.get("uid"), xml)
        return self.injector_answers.answer(self.injectors.visible(caller))

    def _route(self, caller: Caller, data: bytes) -> Response:
        data = data.strip()
        if len(data) > self.deps.settings.max_event_bytes:
            raise HTTPException(413, f"event over {self.deps.settings.max_event_bytes} bytes")
        try:
            event = parse_event(data, self.limits)
        except FrameTooLarge as exc:
            raise HTTPException(413, str(exc)) from exc
        except ProtocolError as exc:
            self.deps.counters.inc(f"rejected{{reason={exc.reason}}}")
            raise HTTPException(400, f"not a valid CoT event: {exc}") from exc
        delivered = self.deps.submit(caller, event, data)
        return JSONResponse({"uid": event.uid, "type": event.type, "delivered": delivered})


def marti_routes(deps: ApiDeps) -> list[BaseRoute]:
    """The Marti endpoints this module serves."""
    injectors = InjectorRoutes(deps, InjectorBook(deps))
    marti = Marti(deps, injectors)
    return [
        Route("/Marti/api/version", marti.version, methods=["GET"]),
        Route("/Marti/api/version/config", marti.version_config, methods=["GET"]),
        Route("/Marti/api/clientEndPoints", marti.client_endpoints, methods=["GET"]),
        Route("/Marti/api/groups/all", marti.groups, methods=["GET"]),
        Route("/Marti/api/groups/active", marti.set_active_groups, methods=["PUT"]),
        Route("/Marti/api/contacts/all", marti.contacts, methods=["GET"]),
        Route("/Marti/api/cot/sa", marti.situation, methods=["GET"]),
        Route("/Marti/api/cot/xml/{uid}", marti.latest, methods=["GET"]),
        Route("/Marti/api/cot/xml/{uid}/all", marti.uid_history, methods=["GET"]),
        Route("/Marti/api/cot", marti.post_cot, methods=["POST"]),
        Route("/Marti/api/injectors/cot/uid", marti.inject, methods=["POST"]),
        *injector_routes(injectors),
    ]

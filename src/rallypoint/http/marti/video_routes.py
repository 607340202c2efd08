"""``/Marti/api/video`` (JSON, node-tak's ``Video``) and ``/Marti/vcm`` (ATAK's XML) over one
group-scoped book of video connections (:mod:`rallypoint.http.marti.video`).

``/Marti/vcm`` speaks TAK Server's older ``<videoConnections><feed>…</feed></videoConnections>``:
one ``feed`` per stream with its URL split into ``protocol``, ``address``, ``port`` and
``path``. Both views read and write the same connections, so a feed posted by one client is
listed to the other.
"""

from collections.abc import Awaitable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from lxml import etree
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from rallypoint.cot.xml import escape_attribute, hardened_parser
from rallypoint.http.common.deps import ApiDeps, Caller, caller_of
from rallypoint.http.common.query import parse_json, read_body
from rallypoint.http.marti.video import VideoBook, VideoConnection, VideoError, normal_connection

MAX_VIDEO_BODY_BYTES = 256 * 1024
"""A body of connections: dozens of feeds with long URLs fit many times over."""
MAX_PER_REQUEST = 32
"""Connections (JSON) or feeds (``/vcm`` XML) one request may bring."""
XML_MEDIA_TYPE = "application/xml"
V1_FIELDS = (
    "roverPort",
    "ignoreEmbeddedKLV",
    "rtspReliable",
    "latitude",
    "longitude",
    "fov",
    "heading",
    "range",
    "source",
)
"""Feed fields copied one to one between the JSON and the XML views."""
_PARSER = hardened_parser(remove_blank_text=True)
T = TypeVar("T")


def video_routes(deps: ApiDeps) -> list[BaseRoute]:
    """The video routes; connections are kept in ``deps.store``'s journal."""
    handlers = _Video(deps, VideoBook(deps.store or (lambda: None)))
    return [
        Route("/Marti/api/video", handlers.list_json, methods=["GET"]),
        Route("/Marti/api/video", handlers.create_json, methods=["POST"]),
        Route("/Marti/api/video/{uuid}", handlers.get_json, methods=["GET"]),
        Route("/Marti/api/video/{uuid}", handlers.update_json, methods=["PUT"]),
        Route("/Marti/api/video/{uuid}", handlers.delete_json, methods=["DELETE"]),
        Route("/Marti/vcm", handlers.list_xml, methods=["GET"]),
        Route("/Marti/vcm", handlers.post_xml, methods=["POST"]),
    ]


def chosen_groups(request: Request, caller: Caller) -> frozenset[str]:
    """``group=`` (repeatable) among the caller's groups, or all of them; another's is refused."""
    asked = {name for value in request.query_params.getlist("group") for name in value.split(",") if name}
    if not asked:
        return caller.groups
    if not asked <= caller.groups:
        raise HTTPException(403, "a video connection can only be shared with the caller's own groups")
    return frozenset(asked)


def feed_xml(connection: dict[str, Any], feed: dict[str, Any]) -> str:
    """One ``<feed>`` of ``/Marti/vcm``: the URL split as TAK Server's schema has it."""
    url = urlsplit(feed["url"])
    values = {
        "uid": feed["uuid"],
        "active": "true" if connection["active"] and feed["active"] else "false",
        "alias": feed["alias"] or connection["alias"],
        "protocol": url.scheme,
        "address": url.hostname or "",
        "port": str(url.port or ""),
        "path": url.path + (f"?{url.query}" if url.query else ""),
        "preferredMacAddress": feed["macAddress"],
        "buffer": feed["bufferTime"],
        "timeout": feed["networkTimeout"],
        **{name: "" if feed[name] is None else str(feed[name]) for name in V1_FIELDS},
    }
    return "<feed>" + "".join(f"<{k}>{escape_attribute(v)}</{k}>" for k, v in values.items()) + "</feed>"


def feed_from_xml(element: etree._Element) -> dict[str, Any]:
    """A JSON feed from one ``<feed>`` of a ``POST /Marti/vcm`` body."""
    text = {child.tag: (child.text or "").strip() for child in element if isinstance(child.tag, str)}
    port = f":{text['port']}" if text.get("port") else ""
    path = text.get("path", "")
    if path and not path.startswith("/"):
        path = "/" + path
    return {
        "uuid": text.get("uid") or None,
        "active": text.get("active", "true") != "false",
        "alias": text.get("alias", ""),
        "url": f"{text.get('protocol', 'rtsp')}://{text.get('address', '')}{port}{path}",
        "macAddress": text.get("preferredMacAddress", ""),
        "bufferTime": text.get("buffer", ""),
        "networkTimeout": text.get("timeout", ""),
        **{name: text.get(name) or None for name in V1_FIELDS},
    }


class _Video:
    def __init__(self, deps: ApiDeps, book: VideoBook) -> None:
        self.deps = deps
        self.book = book

    async def list_json(self, request: Request) -> Response:
        caller = caller_of(request)
        protocol = request.query_params.get("protocol")
        rows = [c.body for c in await self._call(self.book.visible(caller.groups))]
        if protocol:
            rows = [
                {**row, "feeds": [f for f in row["feeds"] if f["url"].startswith(f"{protocol}:")]}
                for row in rows
            ]
        return JSONResponse({"videoConnections": rows})

    async def create_json(self, request: Request) -> Response:
        caller = caller_of(request)
        groups = chosen_groups(request, caller)
        document = parse_json(await read_body(request, MAX_VIDEO_BODY_BYTES))
        raw = document.get("videoConnections") if isinstance(document, dict) else None
        if not isinstance(raw, list) or len(raw) > MAX_PER_REQUEST:
            raise HTTPException(
                400, f'body must be {{"videoConnections": [...]}} with at most {MAX_PER_REQUEST}'
            )
        stored = [await self._put(caller, groups, self._normal(item)) for item in raw]
        return JSONResponse({"videoConnections": stored})

    async def get_json(self, request: Request) -> Response:
        caller = caller_of(request)
        connection = await self._call(self.book.get(request.path_params["uuid"], caller.groups))
        if connection is None:
            raise HTTPException(404, "no such video connection")
        return JSONResponse(connection.body)

    async def update_json(self, request: Request) -> Response:
        caller = caller_of(request)
        uuid = request.path_params["uuid"]
        if await self._call(self.book.get(uuid, caller.groups)) is None:
            raise HTTPException(404, "no such video connection")
        body = self._normal(parse_json(await read_body(request, MAX_VIDEO_BODY_BYTES)), uuid)
        return JSONResponse(await self._put(caller, caller.groups, body))

    async def delete_json(self, request: Request) -> Response:
        caller = caller_of(request)
        deleted = self.book.delete(
            request.path_params["uuid"], caller.groups, caller.name, self.deps.now_ms()
        )
        if not await self._call(deleted):
            raise HTTPException(404, "no such video connection")
        return Response(status_code=200)

    async def list_xml(self, request: Request) -> Response:
        caller = caller_of(request)
        feeds = [
            feed_xml(c.body, feed)
            for c in await self._call(self.book.visible(caller.groups))
            for feed in c.body["feeds"]
        ]
        return Response(
            "<videoConnections>" + "".join(feeds) + "</videoConnections>", media_type=XML_MEDIA_TYPE
        )

    async def post_xml(self, request: Request) -> Response:
        """Each ``<feed>`` becomes (or replaces) a connection of one feed, keyed by its ``uid``."""
        caller = caller_of(request)
        groups = chosen_groups(request, caller)
        body = await read_body(request, MAX_VIDEO_BODY_BYTES)
        if b"<!" in body:
            raise HTTPException(400, "DOCTYPE and entity declarations are refused")
        try:
            root = etree.fromstring(body, _PARSER)
        except etree.XMLSyntaxError as exc:
            raise HTTPException(400, f"not well-formed XML: {exc}") from exc
        feeds = root.findall("feed")
        if root.tag != "videoConnections" or len(feeds) > MAX_PER_REQUEST:
            raise HTTPException(400, f"body must be <videoConnections> with at most {MAX_PER_REQUEST} feeds")
        for element in feeds:
            feed = feed_from_xml(element)
            connection = {"uuid": feed["uuid"], "alias": feed["alias"], "feeds": [feed]}
            await self._put(caller, groups, self._normal(connection))
        return Response(status_code=200)

    def _normal(self, raw: Any, uuid: str | None = None) -> dict[str, Any]:
        try:
            return normal_connection(raw, uuid)
        except VideoError as exc:
            raise HTTPException(exc.status, str(exc)) from exc

    async def _put(self, caller: Caller, groups: frozenset[str], body: dict[str, Any]) -> dict[str, Any]:
        connection = VideoConnection(body["uuid"], body, groups, caller.name)
        await self._call(self.book.put(connection, caller.groups, self.deps.now_ms()))
        return body

    async def _call(self, step: Awaitable[T]) -> T:
        try:
            return await step
        except VideoError as exc:
            raise HTTPException(exc.status, str(exc)) from exc

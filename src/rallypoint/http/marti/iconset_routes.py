"""TAK Server's iconset API over :class:`rallypoint.http.marti.iconsets.IconsetBook`.

``POST /Marti/api/iconset`` takes the zip as the multipart part ``file`` (TAK Server's form);
``PUT`` (and a POST that is not multipart) takes it as the raw body. ``GET
/Marti/api/iconset/all/uid`` lists the uids the caller may see (node-tak's ``Iconsets.list``),
``GET /Marti/api/iconseturl/{uid}`` (also ``/Marti/api/iconset/{uid}``) the URL of each icon,
and ``GET /Marti/api/icon/{uid}/{folder}/{name}`` serves one.
"""

import logging

import anyio.to_thread
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from rallypoint.errors import UploadRefused, UploadTooLarge
from rallypoint.http.common.deps import ApiDeps, caller_of, envelope
from rallypoint.http.common.uploads import Received, discard, receive_part, receive_raw
from rallypoint.http.marti.iconsets import (
    ICON_MEDIA_TYPES,
    MAX_ICONSET_BYTES,
    MAX_ICONSETS,
    Iconset,
    IconsetBook,
    read_iconset,
)

log = logging.getLogger(__name__)

STRING_TYPE = "java.lang.String"
FILE_PARTS = ("file", "assetfile")
"""Multipart part names of the zip: TAK Server's ``file``; ``assetfile`` as data packages use."""


class IconsetRoutes:
    def __init__(self, deps: ApiDeps, book: IconsetBook) -> None:
        self.deps, self.book = deps, book
        self._lock = anyio.Lock()

    def _envelope(self, data: object) -> Response:
        return JSONResponse(envelope(STRING_TYPE, data, self.deps.settings.server_id))

    async def upload(self, request: Request) -> Response:
        """Check, then keep the iconset in the caller's groups; answers its uid."""
        caller = caller_of(request)
        received = await self._receive(request)
        try:
            uid, name, icons = await anyio.to_thread.run_sync(read_iconset, received.path)
            async with self._lock:
                if self.book.taken_by_others(uid, caller.groups):
                    raise HTTPException(403, f"iconset {uid!r} belongs to other groups")
                if self.book.full(uid):
                    raise HTTPException(429, f"the server keeps at most {MAX_ICONSETS} iconsets")
                iconset = Iconset(uid, name, caller.groups, caller.name, icons)
                await anyio.to_thread.run_sync(self.book.put, iconset, received.path)
        except UploadRefused as exc:
            self.deps.counters.inc(f"upload_refused{{reason={exc.reason}}}")
            raise HTTPException(400, f"{exc.reason}: {exc}") from exc
        finally:
            discard(received)
        log.info("iconset %s (%s, %d icons) from %s", uid, name, len(icons), caller.name or caller.address)
        return self._envelope(uid)

    async def _receive(self, request: Request) -> Received:
        multipart = (request.headers.get("content-type") or "").startswith("multipart/")
        data_dir = self.deps.settings.data_dir
        try:
            if multipart:
                return await receive_part(request, data_dir, MAX_ICONSET_BYTES, FILE_PARTS)
            return await receive_raw(request, data_dir, MAX_ICONSET_BYTES)
        except UploadRefused as exc:
            self.deps.counters.inc(f"upload_refused{{reason={exc.reason}}}")
            status = 413 if isinstance(exc, UploadTooLarge) else 400
            raise HTTPException(status, f"{exc.reason}: {exc}") from exc

    async def all_uids(self, request: Request) -> Response:
        caller = caller_of(request)
        return self._envelope(sorted(s.uid for s in self.book.visible(caller.groups)))

    def _iconset(self, request: Request) -> Iconset:
        iconset = self.book.get(request.path_params["uid"], caller_of(request).groups)
        if iconset is None:
            raise HTTPException(404, f"no iconset {request.path_params['uid']!r}")
        return iconset

    async def icon_urls(self, request: Request) -> Response:
        iconset = self._iconset(request)
        base = str(request.base_url).rstrip("/")
        return self._envelope([f"{base}/Marti/api/icon/{iconset.uid}/{f}/{n}" for f, n in iconset.icons])

    async def icon(self, request: Request) -> Response:
        iconset = self._iconset(request)
        folder, name = request.path_params["group"], request.path_params["name"]
        data = await anyio.to_thread.run_sync(self.book.icon, iconset, folder, name)
        if data is None:
            raise HTTPException(404, f"no icon {folder}/{name} in iconset {iconset.uid!r}")
        media_type = ICON_MEDIA_TYPES.get("." + name.rsplit(".", 1)[-1].lower(), "image/png")
        return Response(data, media_type=media_type)


def iconset_routes(deps: ApiDeps) -> list[BaseRoute]:
    handlers = IconsetRoutes(deps, IconsetBook(deps.settings.data_dir))
    return [
        Route("/Marti/api/iconset", handlers.upload, methods=["POST", "PUT"]),
        Route("/Marti/api/iconset/all/uid", handlers.all_uids, methods=["GET"]),
        Route("/Marti/api/iconseturl/{uid}", handlers.icon_urls, methods=["GET"]),
        Route("/Marti/api/iconset/{uid}", handlers.icon_urls, methods=["GET"]),
        Route("/Marti/api/icon/{uid}/{group}/{name}", handlers.icon, methods=["GET"]),
    ]

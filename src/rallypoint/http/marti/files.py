"""The newer file API of TAK Server beside Enterprise Sync (reference §4.4): node-tak's ``Files``.

Every answer is the caller's view, exactly as in :mod:`rallypoint.http.marti.packages`: a
record outside its groups, or past its expiration, is absent (404, not 403), and each record
names only the groups the caller shares with it.

- ``GET /Marti/api/sync/search``: envelope of Resource JSON (the Data Sync content shape).
- ``GET /Marti/sync/{hash}/metadata``: one record's Metadata JSON.
- ``GET``/``DELETE /Marti/api/files/{hash}``: the bytes; removal by the submitter only.
- ``GET /Marti/api/files/metadata`` and ``…/metadata/count``: the file manager's list and count.
- ``GET /files/api/config``: the upload limit, in megabytes.
- ``PUT /Marti/api/sync/metadata/{hash}/expiration?expiration=``: epoch seconds, -1 never;
  by the submitter only, since an expired file stops being offered to everyone.
"""

import time
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from rallypoint.cot.timefmt import format_time
from rallypoint.http.common.deps import API_VERSION, Caller
from rallypoint.http.common.uploads import stored_path
from rallypoint.http.marti.package_access import (
    PackageDeps,
    current,
    open_store_of,
    shown_groups,
    visible,
    visible_record,
)
from rallypoint.http.marti.package_edits import delete_own, file_response
from rallypoint.http.marti.packages import (
    ANONYMOUS_USER,
    PACKAGE_KEYWORD,
    TEXT_JSON,
    metadata_json,
    split_keywords,
)
from rallypoint.store.base import NO_EXPIRATION, PackageRecord

MEGABYTE = 1024 * 1024
MAX_EXPIRATION_S = 1 << 40
"""Epoch seconds beyond any real date: a larger ``expiration`` is refused as malformed."""
SIZE_UNITS = ("B", "kB", "MB", "GB", "TB")


def file_routes(deps: PackageDeps) -> list[BaseRoute]:
    """The file API's routes, mounted beside the data-package routes."""
    files = _Files(deps)
    return [
        Route("/Marti/api/sync/search", files.resources, methods=["GET"]),
        Route("/Marti/sync/{hash}/metadata", files.metadata, methods=["GET"]),
        Route("/Marti/api/files/metadata", files.manager_list, methods=["GET"]),
        Route("/Marti/api/files/metadata/count", files.count, methods=["GET"]),
        Route("/Marti/api/files/{hash}", files.content, methods=["GET"]),
        Route("/Marti/api/files/{hash}", files.delete, methods=["DELETE"]),
        Route("/files/api/config", files.config, methods=["GET"]),
        Route("/Marti/api/sync/metadata/{hash}/expiration", files.set_expiration, methods=["PUT"]),
    ]


def resource_json(record: PackageRecord, caller: Caller) -> dict[str, Any]:
    """A record as TAK's Resource (the content of a mission): camel-case names, ``size`` a number."""
    return {
        "uid": record.uid,
        "hash": record.hash,
        "name": record.name,
        "filename": record.filename,
        "keywords": list(record.keywords),
        "mimeType": record.mime_type,
        "size": record.size,
        "submissionTime": format_time(record.submitted),
        "submitter": record.submitter or ANONYMOUS_USER,
        "creatorUid": record.creator_uid or "",
        "tool": record.tool,
        "expiration": record.expiration,
        "groups": shown_groups(record, caller),
    }


def human_size(size: int) -> str:
    """``12kB``: the file manager shows sizes for a screen, not for arithmetic."""
    value, unit = float(size), 0
    while value >= 1024 and unit < len(SIZE_UNITS) - 1:
        value, unit = value / 1024, unit + 1
    return f"{value:.0f}{SIZE_UNITS[unit]}" if unit == 0 else f"{value:.1f}{SIZE_UNITS[unit]}"


def manager_row(record: PackageRecord, caller: Caller) -> dict[str, str]:
    """One row of ``/api/files/metadata``: every value a string, lists comma-joined."""
    expiration = (
        "none"
        if record.expiration == NO_EXPIRATION
        else time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.expiration))
    )
    return {
        "Name": record.name,
        "User": record.submitter or ANONYMOUS_USER,
        "Creator": record.creator_uid or "",
        "Size": human_size(record.size),
        "Time": time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime(record.submitted // 1000)),
        "MimeType": record.mime_type,
        "Keywords": ",".join(record.keywords),
        "Expiration": expiration,
        "Hash": record.hash,
        "Groups": ",".join(shown_groups(record, caller)),
    }


class _Files:
    def __init__(self, deps: PackageDeps) -> None:
        self.deps = deps

    async def _listed(self, request: Request) -> list[PackageRecord]:
        """The records the caller may see that match ``keywords``/``tool``/``name``/``missionPackage``."""
        caller = self.deps.caller(request)
        params = request.query_params
        keywords = list(split_keywords(params.getlist("keywords")))
        if params.get("missionPackage") == "true":
            keywords.append(PACKAGE_KEYWORD)
        records = await open_store_of(self.deps).search_packages(
            keywords=keywords,
            tool=params.get("tool") or None,
            name=params.get("name") or None,
            groups=caller.groups,
        )
        now = self.deps.now_ms()
        return [record for record in records if visible(record, caller) and current(record, now)]

    async def resources(self, request: Request) -> Response:
        caller = self.deps.caller(request)
        rows = [resource_json(record, caller) for record in await self._listed(request)]
        return JSONResponse(self._envelope("Resource", rows))

    async def metadata(self, request: Request) -> Response:
        caller = self.deps.caller(request)
        record = await visible_record(self.deps, request, request.path_params["hash"])
        if record is None:
            return PlainTextResponse("File not found", status_code=404)
        return JSONResponse(metadata_json(record, caller), media_type=TEXT_JSON)

    async def manager_list(self, request: Request) -> Response:
        caller = self.deps.caller(request)
        rows = [manager_row(record, caller) for record in await self._listed(request)]
        return JSONResponse(self._envelope("FileManager", rows))

    async def count(self, request: Request) -> Response:
        return JSONResponse(self._envelope("Count", len(await self._listed(request))))

    async def content(self, request: Request) -> Response:
        record = await visible_record(self.deps, request, request.path_params["hash"])
        path = None if record is None else stored_path(self.deps.data_dir, record.hash)
        if record is None or path is None or not path.is_file():
            return PlainTextResponse("File not found", status_code=404)
        return file_response(request, path, record)

    async def delete(self, request: Request) -> Response:
        return await delete_own(self.deps, request, request.path_params["hash"])

    async def config(self, request: Request) -> Response:
        self.deps.caller(request)
        return JSONResponse({"uploadSizeLimit": self.deps.settings.upload_max_bytes // MEGABYTE})

    async def set_expiration(self, request: Request) -> Response:
        caller = self.deps.caller(request)
        text = request.query_params.get("expiration", "")
        expiration = int(text) if text.lstrip("-").isdigit() else None
        if expiration is None or not NO_EXPIRATION <= expiration < MAX_EXPIRATION_S:
            raise HTTPException(400, "expiration must be epoch seconds, or -1 for never")
        record = await visible_record(self.deps, request, request.path_params["hash"])
        if record is None:
            return PlainTextResponse("File not found", status_code=404)
        if caller.name is None or caller.name != record.submitter:
            raise HTTPException(403, "only the identity that submitted a file may set its expiration")
        await open_store_of(self.deps).set_package_expiration(record.hash, expiration, record.submitter)
        return PlainTextResponse(str(expiration))

    def _envelope(self, type_name: str, data: Any) -> dict[str, Any]:
        return {
            "version": API_VERSION,
            "type": type_name,
            "data": data,
            "nodeId": self.deps.settings.server_id,
        }

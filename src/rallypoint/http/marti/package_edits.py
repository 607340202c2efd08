"""Data-package edits and partial downloads (reference §4.4): keywords, deletion, byte ranges.

``PUT /Marti/api/sync/metadata/{hash}/keywords`` replaces a package's keywords (a JSON list
of strings), for any caller who may see it, as TAK Server allows. ``DELETE
/Marti/sync/delete?hash=`` removes a package from the index and the disk: only the identity
that submitted it may, and never an anonymous caller (TAK Server keeps this for admins; we
have no admin role on the API yet). A download takes TAK's ``offset`` and ``length``
parameters (resuming over a poor link) as well as the HTTP ``Range`` header.
"""

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from rallypoint.http.common.headers import attachment, served_media_type
from rallypoint.http.common.query import parse_json, read_body
from rallypoint.http.common.uploads import stored_path
from rallypoint.http.marti.package_access import PackageDeps, open_store_of, visible_record
from rallypoint.store.base import PackageRecord

log = logging.getLogger(__name__)

MAX_KEYWORDS_BODY_BYTES = 16 * 1024
MAX_KEYWORDS = 64
MAX_KEYWORD_CHARS = 128
CHUNK_BYTES = 64 * 1024
"""Bytes read from disk per step of a partial download."""


def package_edit_routes(deps: PackageDeps) -> list[BaseRoute]:
    """Routes mounted beside the package routes."""
    edits = _Edits(deps)
    return [
        Route("/Marti/api/sync/metadata/{hash}/keywords", edits.set_keywords, methods=["PUT"]),
        Route("/Marti/sync/delete", edits.delete, methods=["DELETE"]),
    ]


def file_response(request: Request, path: Path, record: PackageRecord) -> Response:
    """The file, whole or the ``offset``/``length`` slice asked for (416 outside the file).

    Always an attachment of a passive type (:mod:`rallypoint.http.common.headers`): an upload
    of ``text/html`` or SVG is handed back as bytes to save, never rendered in our origin."""
    params = request.query_params
    media_type = served_media_type(record.mime_type)
    if "offset" not in params and "length" not in params:
        return FileResponse(
            path, media_type=media_type, headers={"Content-Disposition": attachment(record.filename)}
        )
    size = path.stat().st_size
    offset = _count(params.get("offset", "0"), "offset")
    length = _count(params.get("length", str(max(size - offset, 0))), "length")
    if offset > size or (offset == size and size > 0):
        raise HTTPException(416, f"offset {offset} is beyond the file's {size} bytes")
    length = min(length, size - offset)
    headers = {
        "Content-Length": str(length),
        "Content-Disposition": attachment(record.filename),
        "Content-Range": f"bytes {offset}-{offset + length - 1}/{size}" if length else f"bytes */{size}",
    }
    return StreamingResponse(
        _read_slice(path, offset, length), status_code=206, media_type=media_type, headers=headers
    )


def _count(text: str, name: str) -> int:
    if not text.isdigit():
        raise HTTPException(400, f"{name} must be a non-negative integer")
    return int(text)


async def _read_slice(path: Path, offset: int, length: int) -> AsyncIterator[bytes]:
    async with await anyio.open_file(path, "rb") as source:
        await source.seek(offset)
        remaining = length
        while remaining > 0:
            chunk = await source.read(min(CHUNK_BYTES, remaining))
            if not chunk:
                return
            remaining -= len(chunk)
            yield chunk


class _Edits:
    def __init__(self, deps: PackageDeps) -> None:
        self.deps = deps

    async def set_keywords(self, request: Request) -> Response:
        record = await visible_record(self.deps, request, request.path_params["hash"])
        if record is None:
            return PlainTextResponse("File not found", status_code=404)
        body = await read_body(request, MAX_KEYWORDS_BODY_BYTES)
        keywords = parse_json(body)
        if (
            not isinstance(keywords, list)
            or len(keywords) > MAX_KEYWORDS
            or not all(isinstance(word, str) and 0 < len(word) <= MAX_KEYWORD_CHARS for word in keywords)
        ):
            raise HTTPException(400, f"body must be a JSON list of at most {MAX_KEYWORDS} short strings")
        if not await open_store_of(self.deps).set_package_keywords(record.hash, keywords, record.submitter):
            return PlainTextResponse("File not found", status_code=404)
        return JSONResponse(keywords)

    async def delete(self, request: Request) -> Response:
        return await delete_own(self.deps, request, request.query_params.get("hash", ""))


async def delete_own(deps: PackageDeps, request: Request, sha256: str) -> Response:
    """Delete the caller's record of ``sha256`` (``/sync/delete`` and ``DELETE /api/files/{hash}``):
    404 if it cannot see one, 403 unless it submitted it; the file goes with the last record."""
    caller = deps.caller(request)
    record = await visible_record(deps, request, sha256)
    if record is None:
        return PlainTextResponse("File not found", status_code=404)
    if caller.name is None or caller.name != record.submitter:
        raise HTTPException(403, "only the identity that submitted a package may delete it")
    store = open_store_of(deps)
    await store.delete_package(record.hash, record.submitter)
    if not await store.packages_of(record.hash):  # the last record of these bytes: drop the file
        await anyio.to_thread.run_sync(_unlink, stored_path(deps.data_dir, record.hash))
    log.info("package %s (%s) deleted by %s", record.hash, record.name, caller.name)
    return PlainTextResponse(f"deleted {record.hash}")


def _unlink(path: Path) -> None:
    path.unlink(missing_ok=True)

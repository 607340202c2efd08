"""Data packages from the web page: list, upload, download, on the Marti package store.

The files are the ones ATAK exchanges through ``/Marti/sync/…``: same store, same hash
naming, same group visibility, same caps. An upload (multipart part ``file``) that is a zip is
checked as a data package (manifest, entries, sizes, ratio) before anything is kept, and
announced to the uploader's groups as TAK's file-share offer, as a public mission upload is;
any other file is kept as a plain attachment.
"""

import logging
import uuid
from pathlib import Path
from typing import Any

import anyio.to_thread
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from rallypoint.errors import UploadRefused, UploadTooLarge
from rallypoint.http.command_post.auth import web_uid
from rallypoint.http.common.deps import caller_of
from rallypoint.http.common.uploads import (
    discard,
    is_sha256,
    receive_part,
    sanitize_name,
    stored_path,
)
from rallypoint.http.common.zipcheck import PackageInfo, PackageLimits, check_archive, check_package
from rallypoint.http.marti.package_access import choose_record, save_record
from rallypoint.http.marti.package_edits import file_response
from rallypoint.http.marti.packages import (
    DEFAULT_MEDIA_TYPE,
    PACKAGE_KEYWORD,
    ZIP_MAGIC,
    ZIP_MEDIA_TYPE,
    PackageDeps,
    fileshare_event,
    visible,
)
from rallypoint.store.base import TOOL_PUBLIC, PackageRecord, PackageStore

log = logging.getLogger(__name__)

UPLOAD_PARTS = ("file",)


def package_json(record: PackageRecord) -> dict[str, Any]:
    """One package as the page lists it."""
    return {
        "hash": record.hash,
        "name": record.name,
        "filename": record.filename,
        "mime_type": record.mime_type,
        "size": record.size,
        "submitter": record.submitter,
        "submitted": record.submitted,
        "keywords": list(record.keywords),
        "tool": record.tool,
    }


def web_package_routes(deps: PackageDeps) -> list[BaseRoute]:
    """``GET/POST /api/packages`` and ``GET /api/packages/{hash}``."""
    limits = PackageLimits(deps.settings.package_max_entries, deps.settings.package_max_uncompressed_bytes)

    def store() -> PackageStore:
        opened = deps.store()
        if opened is None:
            raise HTTPException(503, "the store is not open")
        return opened

    async def listing(request: Request) -> Response:
        caller = caller_of(request)
        records = await store().search_packages(keywords=[], tool=None, name=None, groups=caller.groups)
        found = sorted((r for r in records if visible(r, caller)), key=lambda r: r.submitted, reverse=True)
        return JSONResponse([package_json(record) for record in found])

    async def upload(request: Request) -> Response:
        caller = caller_of(request)
        assert caller.name is not None
        opened = store()
        try:
            received = await receive_part(
                request, deps.data_dir, deps.settings.upload_max_bytes, UPLOAD_PARTS
            )
        except UploadRefused as exc:
            raise _refused(deps, exc, caller.name) from exc
        try:
            is_zip = received.head.startswith(ZIP_MAGIC)
            info = await anyio.to_thread.run_sync(_inspect, received.path, is_zip, limits)
            filename = sanitize_name(received.filename)
            record = PackageRecord(
                hash=received.sha256,
                name=sanitize_name(info.name if info and info.name else filename),
                filename=filename,
                mime_type=ZIP_MEDIA_TYPE if is_zip else received.content_type or DEFAULT_MEDIA_TYPE,
                size=received.size,
                submitter=caller.name,
                creator_uid=web_uid(caller.name),
                groups=caller.groups,
                keywords=(PACKAGE_KEYWORD,) if is_zip else (),
                tool=TOOL_PUBLIC,
                submitted=deps.now_ms(),
                uid=(info.uid if info else None) or str(uuid.uuid4()),
            )
            record = await save_record(opened, received, record, deps.data_dir)
        except UploadRefused as exc:
            raise _refused(deps, exc, caller.name) from exc
        finally:
            discard(received)
        log.info("web: %s uploaded %s (%s, %d bytes)", caller.name, record.hash, record.filename, record.size)
        if is_zip:
            link = deps.link(request, record.hash)  # the Marti API's address: TAK clients download there
            event = fileshare_event(record, link, web_uid(caller.name), caller.name, deps.now_ms())
            deps.announce(event, caller.groups, caller.name)
        return JSONResponse(package_json(record), status_code=201)

    async def download(request: Request) -> Response:
        caller = caller_of(request)
        sha256 = request.path_params["hash"].lower()
        record = choose_record(await store().packages_of(sha256), caller) if is_sha256(sha256) else None
        if record is None:
            raise HTTPException(404, "no such package")
        path = stored_path(deps.data_dir, record.hash)
        if not path.is_file():
            raise HTTPException(404, "no such package")
        return file_response(request, path, record)

    return [
        Route("/api/packages", listing, methods=["GET"]),
        Route("/api/packages", upload, methods=["POST"]),
        Route("/api/packages/{hash}", download, methods=["GET"]),
    ]


def _inspect(path: Path, is_zip: bool, limits: PackageLimits) -> PackageInfo | None:
    """A zip is checked as a data package; any other file still if a zip reader would open it."""
    if is_zip:
        return check_package(path, limits)
    check_archive(path, limits)
    return None


def _refused(deps: PackageDeps, exc: UploadRefused, who: str) -> HTTPException:
    deps.count(f"upload_refused{{reason={exc.reason}}}")
    log.warning("web: upload refused (%s) from %s: %s", exc.reason, who, exc)
    status = 413 if isinstance(exc, UploadTooLarge) else 415 if exc.reason == "not_a_zip" else 400
    return HTTPException(status, f"{exc.reason}: {exc}")

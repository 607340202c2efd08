"""Data packages over the Marti API ("Enterprise Sync", reference §4.4).

Files are stored by SHA-256 (:mod:`rallypoint.http.common.uploads`) and indexed in the store as
:class:`~rallypoint.store.base.PackageRecord` values. Every read is filtered by the caller's
groups: a file outside them answers 404 exactly like a missing one, so its existence is not
revealed. A data package upload is validated (:mod:`rallypoint.http.common.zipcheck`) before any byte
of it is kept; a refused upload leaves nothing behind.

Announcing. Clients that send a package to chosen contacts upload it, mark it ``private``
and send their own ``b-f-t-r`` to each recipient; telling the uploader's groups at upload
time would offer that package to everyone. So the server announces only a package that is
explicitly made public: a ``missionupload`` with ``tool=public`` in the query, or a
``PUT …/metadata/<hash>/tool`` with body ``public`` (ATAK's "upload to server" step 3).
The announcement is a ``b-f-t-r`` event to the package's groups (see :func:`fileshare_event`).
"""

import hashlib
import logging
import uuid
from typing import Any

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from rallypoint.cot.event import Detail, Event, Point
from rallypoint.cot.timefmt import format_time
from rallypoint.cot.xml import escape_attribute
from rallypoint.errors import NotAZip, UploadRefused, UploadTooLarge
from rallypoint.http.common.deps import Caller
from rallypoint.http.common.uploads import (
    Received,
    discard,
    receive_part,
    receive_raw,
    sanitize_name,
    stored_path,
)
from rallypoint.http.common.zipcheck import PackageLimits, check_archive, check_package
from rallypoint.http.marti.package_access import (
    PackageDeps,
    current,
    open_store_of,
    save_record,
    shown_groups,
    visible,
    visible_record,
)
from rallypoint.http.marti.package_edits import file_response, package_edit_routes
from rallypoint.store.base import TOOL_PRIVATE, TOOL_PUBLIC, PackageRecord, PackageStore

__all__ = [
    "DEFAULT_MEDIA_TYPE",
    "PACKAGE_KEYWORD",
    "ZIP_MAGIC",
    "ZIP_MEDIA_TYPE",
    "PackageDeps",
    "fileshare_event",
    "metadata_json",
    "package_routes",
    "visible",
]

log = logging.getLogger(__name__)

FILE_PARTS = ("assetfile", "resource")
"""Multipart part names holding the file: commo sends ``assetfile``, browsers ``resource``."""
ZIP_MAGIC = b"PK\x03\x04"
ZIP_MEDIA_TYPE = "application/x-zip-compressed"
DEFAULT_MEDIA_TYPE = "application/octet-stream"
PACKAGE_KEYWORD = "missionpackage"
TOOLS = frozenset({TOOL_PUBLIC, TOOL_PRIVATE})
MAX_TOOL_BODY_BYTES = 64
"""The tool body is one word; anything longer is refused without reading it all."""
FILESHARE_TYPE = "b-f-t-r"
FILESHARE_STALE_MS = 60_000
"""A file-share offer is a notification, not a map item: it need not outlive a minute."""
ANONYMOUS_USER = "anonymous"
"""``SubmissionUser`` of files uploaded without a certificate (TAK Server's word)."""
TEXT_JSON = "text/json"


def package_routes(deps: PackageDeps) -> list[BaseRoute]:
    """The data-package routes, to mount in the Marti app."""
    handlers = _Handlers(deps)
    return [
        Route("/Marti/sync/missionquery", handlers.mission_query, methods=["GET"]),
        Route("/Marti/sync/missionupload", handlers.mission_upload, methods=["POST"]),
        Route("/Marti/sync/upload", handlers.upload, methods=["POST"]),
        Route("/Marti/sync/content", handlers.content, methods=["GET", "HEAD"]),
        Route("/Marti/sync/search", handlers.search, methods=["GET"]),
        Route("/Marti/api/sync/metadata/{hash}/tool", handlers.set_tool, methods=["PUT"]),
        *package_edit_routes(deps),
    ]


def metadata_json(record: PackageRecord, caller: Caller) -> dict[str, Any]:
    """A record under TAK Server's Metadata field names (reference §4.4, search results), as
    ``caller`` may see it: only the groups it shares with the record are named.

    TAK Server keeps every Metadata field as text, so ``Size``, ``PrimaryKey`` and
    ``EXPIRATION`` are strings of digits (``-1``: never expires), as its clients parse them."""
    return {
        "UID": record.uid,
        "Hash": record.hash,
        "Name": record.name,
        "Keywords": list(record.keywords),
        "MIMEType": record.mime_type,
        "SubmissionDateTime": format_time(record.submitted),
        "SubmissionUser": record.submitter or ANONYMOUS_USER,
        "CreatorUid": record.creator_uid or "",
        "Size": str(record.size),
        "PrimaryKey": primary_key(record),
        "EXPIRATION": str(record.expiration),
        "Tool": record.tool,
        "Groups": shown_groups(record, caller),
        "DownloadPath": record.filename,
    }


def primary_key(record: PackageRecord) -> str:
    """TAK's database key of a record, as digits: ours are keyed by content and submitter, so the
    key is a stable number drawn from both (48 bits of their SHA-256)."""
    digest = hashlib.sha256(f"{record.hash}/{record.submitter or ''}".encode()).hexdigest()
    return str(int(digest[:12], 16))


def creator_uid(request: Request) -> str | None:
    """The uploading device's uid: ``creatorUid``, or iTAK's ``CreatorUid``."""
    params = request.query_params
    return params.get("creatorUid") or params.get("CreatorUid") or None


def split_keywords(values: list[str]) -> tuple[str, ...]:
    """``keywords=a,b`` (node-tak, CloudTAK) and repeated ``keywords=`` alike: one keyword each."""
    return tuple(word.strip() for value in values for word in value.split(",") if word.strip())


def fileshare_event(
    record: PackageRecord, url: str, sender_uid: str, sender_callsign: str, now_ms: int
) -> Event:
    """The ``b-f-t-r`` file-share offer TAK clients show as "a package is available".

    ``<fileshare>`` carries the attributes commo writes (``filename``, ``name``,
    ``senderCallsign``, ``senderUid``, ``senderUrl``, ``sha256``, ``sizeInBytes``); no
    ``<ackrequest>`` is sent, since the server does not collect acknowledgements.
    """
    attributes = {
        "filename": record.filename,
        "name": record.name,
        "senderCallsign": sender_callsign,
        "senderUid": sender_uid,
        "senderUrl": url,
        "sha256": record.hash,
        "sizeInBytes": str(record.size),
    }
    fileshare = " ".join(f'{key}="{escape_attribute(value)}"' for key, value in attributes.items())
    return Event(
        uid=str(uuid.uuid4()),
        type=FILESHARE_TYPE,
        how="h-e",
        time=now_ms,
        start=now_ms,
        stale=now_ms + FILESHARE_STALE_MS,
        point=Point(),
        detail=Detail(xml=f"<fileshare {fileshare}/>"),
    )


class _Handlers:
    def __init__(self, deps: PackageDeps) -> None:
        self.deps = deps
        self.limits = PackageLimits(
            deps.settings.package_max_entries, deps.settings.package_max_uncompressed_bytes
        )

    async def mission_query(self, request: Request) -> Response:
        """200 with the download link if the caller may see the package, else 404."""
        record = await self._visible_record(request, request.query_params.get("hash", ""))
        if record is None:
            return PlainTextResponse("File not found", status_code=404)
        return PlainTextResponse(self.deps.link(request, record.hash))

    async def mission_upload(self, request: Request) -> Response:
        """A data package from commo or a browser (multipart); answers its download link."""
        caller = self.deps.caller(request)
        store = self._store()
        params = request.query_params
        filename = params.get("filename")
        tool = params.get("tool", TOOL_PUBLIC)
        if not filename:
            return PlainTextResponse("the filename parameter is required", status_code=400)
        if tool not in TOOLS:
            return PlainTextResponse("tool must be public or private", status_code=400)
        try:
            received = await receive_part(
                request, self.deps.data_dir, self.deps.settings.upload_max_bytes, FILE_PARTS
            )
        except UploadRefused as exc:
            return self._refusal(exc, caller)
        try:
            if not received.head.startswith(ZIP_MAGIC):
                raise NotAZip("a data package must be a zip archive")
            info = await anyio.to_thread.run_sync(check_package, received.path, self.limits)
            _compare_hash(params.get("hash"), received)
            record = PackageRecord(
                hash=received.sha256,
                name=sanitize_name(info.name or filename),
                filename=sanitize_name(filename),
                mime_type=params.get("mimetype") or ZIP_MEDIA_TYPE,
                size=received.size,
                submitter=caller.name,
                creator_uid=creator_uid(request),
                groups=caller.groups,
                keywords=split_keywords(params.getlist("keyword")) or (PACKAGE_KEYWORD,),
                tool=tool,
                submitted=self.deps.now_ms(),
                uid=info.uid or str(uuid.uuid4()),
            )
            record = await self._save(store, received, record)
        except UploadRefused as exc:
            return self._refusal(exc, caller)
        finally:
            discard(received)
        log.info(
            "package %s (%s, %d bytes) uploaded by %s", record.hash, record.filename, record.size, caller.name
        )
        if params.get("tool") == TOOL_PUBLIC:
            self._announce(request, record, caller)
        return PlainTextResponse(self.deps.link(request, record.hash))

    async def upload(self, request: Request) -> Response:
        """Any file (raw body or multipart ``assetfile``/``resource``); answers its Metadata JSON."""
        caller = self.deps.caller(request)
        store = self._store()
        params = request.query_params
        name = params.get("name")
        if not name:
            return PlainTextResponse("the name parameter is required", status_code=400)
        cap = self.deps.settings.upload_max_bytes
        multipart = (request.headers.get("content-type") or "").startswith("multipart/")
        try:
            if multipart:
                received = await receive_part(request, self.deps.data_dir, cap, FILE_PARTS)
            else:
                received = await receive_raw(request, self.deps.data_dir, cap)
        except UploadRefused as exc:
            return self._refusal(exc, caller)
        try:
            # Any stored file a client would unzip is checked like a package (zip slip, bombs).
            await anyio.to_thread.run_sync(check_archive, received.path, self.limits)
            record = PackageRecord(
                hash=received.sha256,
                name=sanitize_name(name),
                filename=sanitize_name(received.filename or name),
                mime_type=params.get("mimetype") or received.content_type or DEFAULT_MEDIA_TYPE,
                size=received.size,
                submitter=caller.name,
                creator_uid=creator_uid(request),
                groups=caller.groups,
                keywords=split_keywords(params.getlist("keywords")),
                tool=TOOL_PUBLIC,
                submitted=self.deps.now_ms(),
                uid=str(uuid.uuid4()),
            )
            record = await self._save(store, received, record)
        except UploadRefused as exc:
            return self._refusal(exc, caller)
        finally:
            discard(received)
        return JSONResponse(metadata_json(record, caller), media_type=TEXT_JSON)

    async def content(self, request: Request) -> Response:
        """The file's bytes, streamed from disk; 404 when absent or outside the caller's groups."""
        record = await self._visible_record(request, request.query_params.get("hash", ""))
        if record is None:
            return PlainTextResponse("File not found", status_code=404)
        path = stored_path(self.deps.data_dir, record.hash)
        if not path.is_file():
            log.warning("package %s is indexed but its file is missing", record.hash)
            return PlainTextResponse("File not found", status_code=404)
        return file_response(request, path, record)

    async def search(self, request: Request) -> Response:
        """``{"resultCount":N,"results":[Metadata…]}`` of the records visible to the caller."""
        caller = self.deps.caller(request)
        params = request.query_params
        records = await self._store().search_packages(
            keywords=list(split_keywords(params.getlist("keywords"))),
            tool=params.get("tool") or None,
            name=params.get("name") or None,
            groups=caller.groups,
        )
        # The store filters by groups; checking again keeps the guarantee local to this module.
        now = self.deps.now_ms()
        results = [metadata_json(r, caller) for r in records if visible(r, caller) and current(r, now)]
        return JSONResponse({"resultCount": len(results), "results": results}, media_type=TEXT_JSON)

    async def set_tool(self, request: Request) -> Response:
        """Mark a package ``public`` (listed, and announced) or ``private`` (sent to contacts)."""
        caller = self.deps.caller(request)
        record = await self._visible_record(request, request.path_params["hash"])
        if record is None:
            return PlainTextResponse("File not found", status_code=404)
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_TOOL_BODY_BYTES:
                return PlainTextResponse("tool must be public or private", status_code=400)
        tool = body.decode("utf-8", "replace").strip()
        if tool not in TOOLS:
            return PlainTextResponse("tool must be public or private", status_code=400)
        if not await self._store().set_package_tool(record.hash, tool, record.submitter):
            return PlainTextResponse("File not found", status_code=404)
        if tool == TOOL_PUBLIC:
            self._announce(request, record._replace(tool=tool), caller)
        return PlainTextResponse(tool)

    def _store(self) -> PackageStore:
        return open_store_of(self.deps)

    async def _visible_record(self, request: Request, sha256: str) -> PackageRecord | None:
        return await visible_record(self.deps, request, sha256)

    async def _save(self, store: PackageStore, received: Received, record: PackageRecord) -> PackageRecord:
        """Keep the file under its hash and index the uploader's own record of it."""
        return await save_record(store, received, record, self.deps.data_dir)

    def _refusal(self, exc: UploadRefused, caller: Caller) -> Response:
        status = 413 if isinstance(exc, UploadTooLarge) else 415 if isinstance(exc, NotAZip) else 400
        self.deps.count(f"upload_refused{{reason={exc.reason}}}")
        log.warning("upload refused (%s) from %s: %s", exc.reason, caller.name or caller.address, exc)
        return PlainTextResponse(f"{exc.reason}: {exc}", status_code=status)

    def _announce(self, request: Request, record: PackageRecord, caller: Caller) -> None:
        sender_uid = record.creator_uid or self.deps.settings.server_id
        callsign = caller.name or sender_uid
        event = fileshare_event(
            record, self.deps.link(request, record.hash), sender_uid, callsign, self.deps.now_ms()
        )
        self.deps.announce(event, record.groups, caller.name)


def _compare_hash(claimed: str | None, received: Received) -> None:
    if claimed and claimed.lower() != received.sha256:
        log.info(
            "upload hash %s differs from the computed %s; the computed one is used", claimed, received.sha256
        )

"""A mission as a data package, both ways (TAK Server's MissionApi, issue 14).

``GET …/missions/{name}/archive`` (``MISSION_READ``) answers the mission as a zip a TAK client
imports: ``MANIFEST/manifest.xml`` naming the mission, each file of the mission under
``<hash>/<filename>`` and each map item's latest event under ``<uid>/<uid>.cot``. It is built in
a temporary file off the event loop and streamed, with a named cap on what it may hold.

``PUT …/missions/{name}/contents/missionpackage?creatorUid=`` (``MISSION_WRITE``) takes a data
package: checked like every upload (:mod:`rallypoint.http.common.zipcheck`) before anything is
kept, indexed as a file of the caller's groups shared with the mission, added to the mission
with the map items its ``.cot`` entries carry. The answer is TAK's list of conflicting
MissionChanges: always empty here, since adding content never conflicts.
"""

import logging
import tempfile
import uuid
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, Any
from xml.etree import ElementTree as ET

import anyio.to_thread
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from rallypoint.cot.xml import XmlLimits, parse_event
from rallypoint.errors import NotAZip, ProtocolError, UploadRefused, UploadTooLarge
from rallypoint.http.common.deps import envelope
from rallypoint.http.common.uploads import discard, receive_raw, sanitize_name, stored_path
from rallypoint.http.common.zipcheck import PackageLimits, check_package
from rallypoint.http.marti.missions_common import Handler, actor_of, mission_ref
from rallypoint.http.marti.missions_content import resource_json
from rallypoint.http.marti.package_access import save_record
from rallypoint.missions.field import item_details
from rallypoint.missions.model import Mission
from rallypoint.missions.roles import READ, WRITE
from rallypoint.missions.service import MissionService
from rallypoint.store.base import TOOL_PRIVATE, PackageRecord

log = logging.getLogger(__name__)

MAX_ARCHIVE_BYTES = 1024 * 1024 * 1024
"""Bytes of files one archive may hold; a bigger mission is refused (413), not half-sent."""
CHUNK_BYTES = 64 * 1024
ZIP_MAGIC = b"PK\x03\x04"
ZIP_MEDIA_TYPE = "application/zip"
PACKAGE_KEYWORD = "missionpackage"
MAX_COT_ENTRIES = 1000
"""Map items one mission package may add."""

ArchiveFile = tuple[str, Path]
"""(zip entry name, file on disk)"""
ArchiveEvent = tuple[str, bytes]
"""(zip entry name, event XML)"""


def manifest_xml(mission: Mission, entries: list[tuple[str, str | None]]) -> bytes:
    """``MANIFEST/manifest.xml`` of the archive: the mission's guid and name, then each entry."""
    root = ET.Element("MissionPackageManifest", version="2")
    configuration = ET.SubElement(root, "Configuration")
    for name, value in (("uid", mission.guid), ("name", mission.name), ("mission_guid", mission.guid)):
        ET.SubElement(configuration, "Parameter", name=name, value=value)
    contents = ET.SubElement(root, "Contents")
    for entry, uid in entries:
        content = ET.SubElement(contents, "Content", ignore="false", zipEntry=entry)
        if uid is not None:
            ET.SubElement(content, "Parameter", name="uid", value=uid)
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))


def write_archive(
    target: IO[bytes], manifest: bytes, files: list[ArchiveFile], events: list[ArchiveEvent]
) -> None:
    """The zip, written to ``target`` (blocking: run in a thread)."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("MANIFEST/manifest.xml", manifest)
        for entry, path in files:
            archive.write(path, entry)
        for entry, xml in events:
            archive.writestr(entry, xml)


def cot_entries(path: Path, limits: XmlLimits) -> list[tuple[str, bytes]]:
    """The ``.cot`` entries of a checked package (their sizes were bounded by the check)."""
    found: list[tuple[str, bytes]] = []
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            if info.filename.lower().endswith(".cot") and info.file_size <= limits.max_event_bytes:
                found.append((info.filename, archive.read(info)))
            if len(found) >= MAX_COT_ENTRIES:
                break
    return found


class MissionArchive:
    """The archive and mission-package handlers."""

    def __init__(self, service: MissionService) -> None:
        self.service = service
        settings = service.host.settings
        self.data_dir = settings.data_dir
        self.upload_max = settings.upload_max_bytes
        self.limits = PackageLimits(settings.package_max_entries, settings.package_max_uncompressed_bytes)
        self.xml_limits = XmlLimits(settings.max_event_bytes, settings.max_xml_depth)

    def per_mission(self) -> list[tuple[str, Handler, list[str]]]:
        return [
            ("/archive", self.archive, ["GET"]),
            ("/contents/missionpackage", self.add_package, ["PUT"]),
        ]

    async def archive(self, request: Request) -> Response:
        actor = actor_of(request, "clientUid", "creatorUid")
        mission = self.service.find(actor, **mission_ref(request))
        await self.service.authorize(mission, actor, READ)
        spool = await self.build(mission)
        filename = sanitize_name(mission.name, "mission").replace('"', "")
        headers = {"Content-Disposition": f'attachment; filename="{filename}.zip"'}
        return StreamingResponse(_chunks(spool), media_type=ZIP_MEDIA_TYPE, headers=headers)

    async def build(self, mission: Mission) -> IO[bytes]:
        """The mission's archive in a temporary file, at its start (the caller closes it)."""
        files: list[ArchiveFile] = []
        entries: list[tuple[str, str | None]] = []
        total = 0
        for resource, _time, _creator in mission.contents.values():
            path = stored_path(self.data_dir, resource["hash"])
            if not path.is_file():
                log.warning("mission %r: file %s is indexed but missing", mission.name, resource["hash"])
                continue
            total += path.stat().st_size
            if total > MAX_ARCHIVE_BYTES:
                raise HTTPException(413, f"the mission's files exceed {MAX_ARCHIVE_BYTES} bytes")
            entry = f"{resource['hash']}/{sanitize_name(resource.get('filename') or resource['hash'])}"
            files.append((entry, path))
            entries.append((entry, resource.get("uid")))
        events = self._events(mission)
        entries.extend((entry, entry.split("/", 1)[0]) for entry, _xml in events)
        manifest = manifest_xml(mission, entries)
        spool = tempfile.TemporaryFile()  # noqa: SIM115 (handed to the caller, who closes it)
        try:
            await anyio.to_thread.run_sync(write_archive, spool, manifest, files, events)
            spool.seek(0)
        except BaseException:
            spool.close()
            raise
        return spool

    def _events(self, mission: Mission) -> list[ArchiveEvent]:
        cache = self.service.host.router.cache
        events: list[ArchiveEvent] = []
        for item in mission.uids.values():
            entry = cache.get(item.uid)
            xml = entry.message.xml if entry is not None else (item.xml.encode() if item.xml else None)
            if xml is not None:
                name = sanitize_name(item.uid, "item")
                events.append((f"{name}/{name}.cot", xml))
        return events

    async def add_package(self, request: Request) -> Response:
        if not request.query_params.get("creatorUid"):
            raise HTTPException(400, "creatorUid is required")
        actor = actor_of(request, "creatorUid")
        mission = self.service.find(actor, **mission_ref(request))
        await self.service.authorize(mission, actor, WRITE)
        try:
            received = await receive_raw(request, self.data_dir, self.upload_max)
        except UploadTooLarge as exc:
            raise HTTPException(413, str(exc)) from exc
        except UploadRefused as exc:
            raise HTTPException(400, str(exc)) from exc
        try:
            if not received.head.startswith(ZIP_MAGIC):
                raise NotAZip("a mission package must be a zip archive")
            info = await anyio.to_thread.run_sync(check_package, received.path, self.limits)
            cots = await anyio.to_thread.run_sync(cot_entries, received.path, self.xml_limits)
            items = [self._item(entry, xml) for entry, xml in cots]
            name = sanitize_name(info.name or f"{mission.name}.zip")
            record = PackageRecord(
                hash=received.sha256,
                name=name,
                filename=name if name.lower().endswith(".zip") else f"{name}.zip",
                mime_type=ZIP_MEDIA_TYPE,
                size=received.size,
                submitter=actor.username,
                creator_uid=actor.uid,
                groups=mission.groups & actor.groups,
                keywords=(PACKAGE_KEYWORD,),
                tool=TOOL_PRIVATE,
                submitted=self.service.host.now_ms(),
                uid=info.uid or str(uuid.uuid4()),
            )
            record = await save_record(self.service.store(), received, record, self.data_dir)
        except UploadRefused as exc:
            raise HTTPException(415 if isinstance(exc, NotAZip) else 400, str(exc)) from exc
        finally:
            discard(received)
        body = {"op": "add_content", "resources": [resource_json(record)], "uids": [i for i in items if i]}
        await self.service.change(mission, actor, WRITE, body)
        node = self.service.host.settings.server_id
        return JSONResponse(envelope("MissionChange", [], node))

    def _item(self, entry: str, xml: bytes) -> dict[str, Any] | None:
        try:
            event = parse_event(xml, self.xml_limits)
        except ProtocolError:
            log.info("mission package entry %s is not a CoT event: skipped", entry)
            return None
        return {"uid": event.uid, "details": item_details(event), "xml": xml.decode("utf-8", "replace")}


async def _chunks(spool: IO[bytes]) -> AsyncIterator[bytes]:
    try:
        while chunk := await anyio.to_thread.run_sync(spool.read, CHUNK_BYTES):
            yield chunk
    finally:
        spool.close()

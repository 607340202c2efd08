"""Device profiles (issue 14): what a server pushes to devices as a data package, so that teams
on an offline LAN get their map sources and preferences when they connect.

The operator keeps plain files in ``device_profile_dir``; ``connection/`` is sent on
``GET /Marti/api/device/profile/connection`` (ATAK asks on every connect), ``tool/<tool>/`` on
``GET /Marti/api/device/profile/tool/<tool>``, and ``groups/<group>/connection/`` or
``groups/<group>/tool/<tool>/`` only to callers in that group. The answer is a zip with a
``MANIFEST/manifest.xml`` naming every file, marked to import and then delete itself; with no
file to send it is 204, as TAK Server answers. ``syncSecago`` (seconds) asks only for a profile
changed that recently; ``-1`` or absent means "whatever there is". Only regular files are read
(no symbolic link is followed), bounded in count and bytes.
"""

import io
import re
import time
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path

import anyio.to_thread
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from rallypoint.cot.xml import escape_attribute
from rallypoint.http.common.deps import ApiDeps, Caller, caller_of
from rallypoint.http.common.headers import attachment
from rallypoint.http.common.zipcheck import MANIFEST_ENTRY

MAX_PROFILE_FILES = 256
"""Files in one profile: map sources and preference files number in the tens."""
MAX_PROFILE_BYTES = 32 * 1024 * 1024
"""Bytes in one profile, held in memory while the zip is built; larger maps go as packages."""
TOOL_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
"""A tool name is one path segment (``..`` and ``.`` are refused separately)."""
ZIP_MEDIA_TYPE = "application/zip"
CONNECTION = "connection"


@dataclass(frozen=True)
class ProfileFile:
    path: Path
    entry: str
    """Where the file goes in the zip (its path under the folder it came from)."""


def profile_files(root: Path, parts: tuple[str, ...], groups: frozenset[str]) -> list[ProfileFile]:
    """The regular files of ``root/<parts>`` and of ``root/groups/<g>/<parts>`` for the caller's
    groups; a later folder's file replaces an earlier one's of the same name."""
    folders = [root.joinpath(*parts), *(root / "groups" / group / Path(*parts) for group in sorted(groups))]
    chosen: dict[str, ProfileFile] = {}
    for folder in folders:
        if folder.is_symlink() or not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*")):
            if path.is_symlink() or not path.is_file():
                continue
            entry = path.relative_to(folder).as_posix()
            chosen[entry] = ProfileFile(path, entry)
            if len(chosen) > MAX_PROFILE_FILES:
                raise HTTPException(500, f"the profile has more than {MAX_PROFILE_FILES} files")
    return [chosen[entry] for entry in sorted(chosen)]


def manifest_xml(uid: str, name: str, entries: list[str]) -> str:
    """A ``MissionPackageManifest`` v2 that imports its contents and then removes itself."""
    contents = "".join(f'<Content ignore="false" zipEntry="{escape_attribute(e)}"/>' for e in entries)
    parameters = {"uid": uid, "name": name, "onReceiveImport": "true", "onReceiveDelete": "true"}
    configuration = "".join(
        f'<Parameter name="{key}" value="{escape_attribute(value)}"/>' for key, value in parameters.items()
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<MissionPackageManifest version="2">'
        f"<Configuration>{configuration}</Configuration><Contents>{contents}</Contents></MissionPackageManifest>"
    )


def build_profile(files: list[ProfileFile], name: str) -> bytes:
    """The zip of ``files`` with its manifest (in a worker thread: it reads and compresses)."""
    total = 0
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for item in files:
            data = item.path.read_bytes()
            total += len(data)
            if total > MAX_PROFILE_BYTES:
                raise HTTPException(500, f"the profile is over {MAX_PROFILE_BYTES} bytes")
            archive.writestr(item.entry, data)
        archive.writestr(MANIFEST_ENTRY, manifest_xml(str(uuid.uuid4()), name, [f.entry for f in files]))
    return buffer.getvalue()


def changed_since(files: list[ProfileFile], sync_secago: int, now_s: float) -> bool:
    """Whether any file changed in the last ``sync_secago`` seconds (negative: always)."""
    return sync_secago < 0 or any(f.path.stat().st_mtime >= now_s - sync_secago for f in files)


class _Profiles:
    def __init__(self, deps: ApiDeps) -> None:
        self.deps = deps

    async def connection(self, request: Request) -> Response:
        return await self._answer(caller_of(request), request, (CONNECTION,), "Connection profile")

    async def tool(self, request: Request) -> Response:
        tool = request.path_params["tool"]
        if not TOOL_NAME.fullmatch(tool) or tool in (".", ".."):
            raise HTTPException(404, "no such tool profile")
        return await self._answer(caller_of(request), request, ("tool", tool), f"{tool} profile")

    async def _answer(self, caller: Caller, request: Request, parts: tuple[str, ...], name: str) -> Response:
        folder = self.deps.settings.device_profile_dir
        if not folder:
            return Response(status_code=204)
        text = request.query_params.get("syncSecago", "-1")
        if not text.lstrip("-").isdigit():
            raise HTTPException(400, "syncSecago must be whole seconds")
        files = await anyio.to_thread.run_sync(profile_files, Path(folder), parts, caller.groups)
        if not files or not changed_since(files, int(text), time.time()):
            return Response(status_code=204)
        data = await anyio.to_thread.run_sync(build_profile, files, name)
        filename = f"{parts[-1]}-profile.zip"
        return Response(
            data, media_type=ZIP_MEDIA_TYPE, headers={"Content-Disposition": attachment(filename)}
        )


def profile_routes(deps: ApiDeps) -> list[BaseRoute]:
    """The device-profile routes."""
    profiles = _Profiles(deps)
    return [
        Route("/Marti/api/device/profile/connection", profiles.connection, methods=["GET"]),
        Route("/Marti/api/device/profile/tool/{tool}", profiles.tool, methods=["GET"]),
    ]

"""Iconsets: the zips of custom map icons ATAK users share, kept per group.

An iconset zip has ``iconset.xml`` at its root (``<iconset uid= name= version= …>``) and its
icons as ``<folder>/<name>.png``; TAK Server and ATAK call the folder the icon's *group*, and
a CoT marker names its icon as ``<iconset uid>/<folder>/<name>`` (``usericon/@iconsetpath``).
An upload goes through the same zip checks as a data package (entry names, bombs, encrypted
entries) and the hardened XML parser, and icons are read from the stored zip by exact entry
name, never extracted.

An iconset belongs to the groups of whoever uploaded it first: callers outside them neither
list it nor read its icons (404), and cannot replace it (403); its uid stays taken.
"""

import json
import re
import zipfile
from pathlib import Path
from typing import Any, NamedTuple

from lxml import etree

from rallypoint.cot.xml import hardened_parser
from rallypoint.errors import InvalidPackage
from rallypoint.http.common.zipcheck import PackageLimits, check_archive
from rallypoint.pki.files import PRIVATE, write_atomic

ICONSET_ENTRY = "iconset.xml"
ICONSETS_DIR = "iconsets"
MAX_ICONSET_BYTES = 32 * 1024 * 1024
"""An uploaded iconset: a few thousand small PNGs fit many times over."""
MAX_ICONSET_XML_BYTES = 64 * 1024
"""``iconset.xml`` is one element with a handful of attributes."""
MAX_ICON_BYTES = 1024 * 1024
"""One icon: map icons are 32-128 px images of a few kB."""
MAX_ICONSETS = 256
"""Iconsets the server keeps: teams share a few each."""
ICONSET_LIMITS = PackageLimits(max_entries=8192, max_uncompressed_bytes=256 * 1024 * 1024)
"""What one iconset may expand to: thousands of icons, never more than a few hundred MiB."""
SAFE_UID = re.compile(r"[A-Za-z0-9._-]{1,128}")
"""An iconset uid as ATAK makes them (UUIDs); it names our files, so nothing else is taken."""
ICON_MEDIA_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif"}
_PARSER = hardened_parser(remove_blank_text=True)


class IconsetError(InvalidPackage):
    """An upload that is a safe zip but not an iconset (400)."""


class Iconset(NamedTuple):
    uid: str
    name: str
    groups: frozenset[str]
    owner: str | None
    icons: tuple[tuple[str, str], ...]
    """(folder, file name) of every icon, in zip order."""

    def visible_to(self, groups: frozenset[str]) -> bool:
        return not self.groups.isdisjoint(groups)

    def sidecar(self) -> dict[str, Any]:
        return {
            "uid": self.uid,
            "name": self.name,
            "groups": sorted(self.groups),
            "owner": self.owner,
            "icons": [list(icon) for icon in self.icons],
        }


def _attribute(root: Any, name: str) -> str:
    value = root.get(name)
    if not isinstance(value, str) or not value.strip():
        raise IconsetError(f"iconset.xml has no {name}", reason="bad_iconset")
    return value.strip()


def read_iconset(path: Path) -> tuple[str, str, tuple[tuple[str, str], ...]]:
    """uid, name and icons of the iconset zip at ``path``, after the package zip checks."""
    if not check_archive(path, ICONSET_LIMITS):
        raise IconsetError("not a zip", reason="not_a_zip")
    with zipfile.ZipFile(path) as archive:
        infos = {info.filename: info for info in archive.infolist()}
        info = infos.get(ICONSET_ENTRY)
        if info is None:
            raise IconsetError("no iconset.xml at the root of the zip", reason="bad_iconset")
        if info.file_size > MAX_ICONSET_XML_BYTES:
            raise IconsetError("iconset.xml is too large", reason="bad_iconset")
        try:
            root = etree.fromstring(archive.read(info), _PARSER)
        except etree.XMLSyntaxError as exc:
            raise IconsetError(f"iconset.xml is not well-formed: {exc}", reason="bad_iconset") from exc
    if root.tag != "iconset":
        raise IconsetError("iconset.xml's root is not <iconset>", reason="bad_iconset")
    uid, name = _attribute(root, "uid"), _attribute(root, "name")
    if not SAFE_UID.fullmatch(uid):
        raise IconsetError(f"iconset uid {uid!r} is not 1..128 of A-Z a-z 0-9 . _ -", reason="bad_iconset")
    icons = tuple(_icons(infos.values()))
    if not icons:
        raise IconsetError("the iconset has no icons (folder/name.png)", reason="bad_iconset")
    return uid, name, icons


def _icons(infos: Any) -> list[tuple[str, str]]:
    """Entries ``folder/name.<image>``: one folder deep, the only place ATAK looks for icons."""
    found = []
    for info in infos:
        parts = info.filename.split("/")
        suffix = Path(info.filename).suffix.lower()
        if len(parts) == 2 and all(parts) and suffix in ICON_MEDIA_TYPES and info.file_size <= MAX_ICON_BYTES:
            found.append((parts[0], parts[1]))
    return found


class IconsetBook:
    """Iconsets as ``<data_dir>/iconsets/<uid>.zip`` beside ``<uid>.json`` (groups, owner,
    icons). The sidecars are read on each request, so both API ports see one book."""

    def __init__(self, data_dir: Path) -> None:
        self.directory = data_dir / ICONSETS_DIR

    def _all(self) -> dict[str, Iconset]:
        found = {}
        for sidecar in sorted(self.directory.glob("*.json"))[: MAX_ICONSETS + 1]:
            iconset = _load(sidecar)
            if iconset is not None:
                found[iconset.uid] = iconset
        return found

    def visible(self, groups: frozenset[str]) -> list[Iconset]:
        return [s for s in self._all().values() if s.visible_to(groups)]

    def get(self, uid: str, groups: frozenset[str]) -> Iconset | None:
        iconset = self._all().get(uid)
        return iconset if iconset is not None and iconset.visible_to(groups) else None

    def taken_by_others(self, uid: str, groups: frozenset[str]) -> bool:
        iconset = self._all().get(uid)
        return iconset is not None and not iconset.visible_to(groups)

    def full(self, uid: str) -> bool:
        stored = self._all()
        return uid not in stored and len(stored) >= MAX_ICONSETS

    def put(self, iconset: Iconset, upload: Path) -> None:
        """Keep the checked zip, then its sidecar (replacing an iconset of the same uid)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        zip_path = self.directory / f"{iconset.uid}.zip"
        write_atomic(zip_path, upload.read_bytes(), PRIVATE)
        write_atomic(zip_path.with_suffix(".json"), json.dumps(iconset.sidecar()).encode(), PRIVATE)

    def icon(self, iconset: Iconset, folder: str, name: str) -> bytes | None:
        if (folder, name) not in iconset.icons:
            return None
        with zipfile.ZipFile(self.directory / f"{iconset.uid}.zip") as archive:
            return archive.read(f"{folder}/{name}")


def _load(sidecar: Path) -> Iconset | None:
    """One stored iconset; an unreadable sidecar is skipped (its zip was checked on upload)."""
    try:
        meta = json.loads(sidecar.read_text())
        icons = tuple((str(folder), str(name)) for folder, name in meta["icons"])
        return Iconset(str(meta["uid"]), str(meta["name"]), frozenset(meta["groups"]), meta["owner"], icons)
    except (OSError, ValueError, KeyError, TypeError):
        return None

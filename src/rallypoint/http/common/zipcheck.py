"""Validation of an uploaded data package (a zip on disk) before the server keeps or announces it.

TAK clients extract every package they download, so a hostile zip stored here would attack
every device it is shared with: entry names that escape the extraction folder (``../``,
absolute paths, backslashes and drive letters, which Windows clients honour), decompression
bombs, and entry floods. The checks read only the central directory and then decompress
each entry once, counting, so that a header that lies about sizes is caught too. The
manifest (``MANIFEST/manifest.xml``, reference §4.4) is parsed with the same XML rules as
CoT: any DOCTYPE or entity declaration is refused before a parser sees the bytes.

No sockets and no event loop here: the caller runs :func:`check_package` in a worker thread.
"""

import re
import zipfile
from pathlib import Path
from typing import NamedTuple

from lxml import etree

from rallypoint.cot.xml import MARKUP_DECLARATION, hardened_parser
from rallypoint.errors import InvalidPackage

MANIFEST_ENTRY = "MANIFEST/manifest.xml"
MAX_MANIFEST_BYTES = 1024 * 1024
"""A manifest lists one line per entry (~200 bytes); 1 MiB covers thousands of entries."""
MAX_COMPRESSION_RATIO = 100
"""Uncompressed/compressed size of one entry; CoT XML and text compress about 5-20x, a bomb 1000x."""
RATIO_FLOOR_BYTES = 1024 * 1024
"""Entries (and archives) expanding to less than this are not ratio-checked: a tiny highly
compressible file is harmless. The whole archive's expansion is checked as well as each
entry's, so a bomb split into many entries just under the floor is still caught."""
READ_CHUNK_BYTES = 64 * 1024
ENCRYPTED_FLAG = 0x1
"""General-purpose bit 0 of a zip entry: the entry is encrypted."""

_DRIVE_LETTER = re.compile(r"^[A-Za-z]:")
_PARSER = hardened_parser(remove_blank_text=False)


class PackageLimits(NamedTuple):
    """Caps on what one package may expand to (from the settings)."""

    max_entries: int = 1000
    max_uncompressed_bytes: int = 1024 * 1024 * 1024


class ManifestContent(NamedTuple):
    """One ``<Content>`` of the manifest: a zip entry and the map item it belongs to."""

    zip_entry: str
    uid: str | None = None
    name: str | None = None
    ignore: bool = False


class PackageInfo(NamedTuple):
    """What a valid package says about itself."""

    uid: str | None
    """``Configuration`` parameter ``uid``, if present."""
    name: str | None
    """``Configuration`` parameter ``name``, if present."""
    contents: tuple[ManifestContent, ...]
    entries: int
    uncompressed_bytes: int


DEFAULT_LIMITS = PackageLimits()


def check_package(path: Path, limits: PackageLimits = DEFAULT_LIMITS) -> PackageInfo:
    """Validate the data package at ``path``; raise :class:`InvalidPackage` saying why if it is unsafe."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            total = _check_directory(infos, limits)
            manifest = _read_manifest(archive)
            _check_payload(archive, infos)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError) as exc:
        raise InvalidPackage(f"not a readable zip: {exc}", reason="bad_zip") from exc
    uid, name, contents = manifest
    return PackageInfo(uid=uid, name=name, contents=contents, entries=len(infos), uncompressed_bytes=total)


def check_archive(path: Path, limits: PackageLimits = DEFAULT_LIMITS) -> bool:
    """Run the package checks but the manifest on any stored file that a zip reader would open.

    Returns False for a file that is not a zip at all (nothing to check). The test is the end
    of central directory record, where zip readers look, not the first bytes: a zip with a
    prefix of junk is still extracted by clients, so it is still checked.
    """
    if not zipfile.is_zipfile(path):
        return False
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            _check_directory(infos, limits)
            _check_payload(archive, infos)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError) as exc:
        raise InvalidPackage(f"not a readable zip: {exc}", reason="bad_zip") from exc
    return True


def check_entry_name(name: str) -> None:
    """Refuse a name that could land outside the extraction folder on any client OS."""
    if not name or "\\" in name or "\x00" in name:
        raise InvalidPackage(f"unsafe entry name {name!r}", reason="unsafe_name")
    if name.startswith("/") or _DRIVE_LETTER.match(name):
        raise InvalidPackage(f"absolute entry name {name!r}", reason="unsafe_name")
    if ".." in name.split("/"):
        raise InvalidPackage(f"entry name {name!r} climbs out of the package", reason="unsafe_name")


def _check_directory(infos: list[zipfile.ZipInfo], limits: PackageLimits) -> int:
    """Names, flags and declared sizes of every entry; returns the total uncompressed size."""
    if len(infos) > limits.max_entries:
        raise InvalidPackage(
            f"{len(infos)} entries exceed the cap of {limits.max_entries}", reason="too_many_entries"
        )
    seen: set[str] = set()
    total = 0
    for info in infos:
        check_entry_name(info.filename)
        if info.filename in seen:
            raise InvalidPackage(f"entry {info.filename!r} appears twice", reason="duplicate_entry")
        seen.add(info.filename)
        if info.flag_bits & ENCRYPTED_FLAG:
            raise InvalidPackage(f"entry {info.filename!r} is encrypted", reason="encrypted")
        _check_ratio(info)
        total += info.file_size
        if total > limits.max_uncompressed_bytes:
            raise InvalidPackage(
                f"uncompressed size exceeds the cap of {limits.max_uncompressed_bytes} bytes",
                reason="too_large",
            )
    _check_total_ratio(total, sum(info.compress_size for info in infos))
    return total


def _check_total_ratio(total: int, compressed: int) -> None:
    if total >= RATIO_FLOOR_BYTES and total > MAX_COMPRESSION_RATIO * max(compressed, 1):
        raise InvalidPackage(
            f"the entries expand {total} bytes from {compressed} (more than {MAX_COMPRESSION_RATIO}x)",
            reason="compression_ratio",
        )


def _check_ratio(info: zipfile.ZipInfo) -> None:
    if info.file_size < RATIO_FLOOR_BYTES:
        return
    if info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1):
        raise InvalidPackage(
            f"entry {info.filename!r} expands {info.file_size} bytes from {info.compress_size}"
            f" (more than {MAX_COMPRESSION_RATIO}x)",
            reason="compression_ratio",
        )


def _check_payload(archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo]) -> None:
    """Decompress every entry once, which proves the declared sizes and CRCs.

    ``zipfile`` stops each entry at its declared size, raises ``EOFError`` when the data ends
    sooner and ``BadZipFile`` on a CRC or local-header mismatch, so the output is bounded by
    the totals already checked.
    """
    for info in infos:
        with archive.open(info) as entry:
            while entry.read(READ_CHUNK_BYTES):
                pass


def _read_manifest(archive: zipfile.ZipFile) -> tuple[str | None, str | None, tuple[ManifestContent, ...]]:
    try:
        info = archive.getinfo(MANIFEST_ENTRY)
    except KeyError:
        raise InvalidPackage(f"no {MANIFEST_ENTRY} in the package", reason="no_manifest") from None
    if info.file_size > MAX_MANIFEST_BYTES:
        raise InvalidPackage(f"{MANIFEST_ENTRY} exceeds {MAX_MANIFEST_BYTES} bytes", reason="bad_manifest")
    with archive.open(info) as entry:
        data = entry.read(MAX_MANIFEST_BYTES + 1)
    return parse_manifest(data)


def parse_manifest(data: bytes) -> tuple[str | None, str | None, tuple[ManifestContent, ...]]:
    """The configuration uid and name and the contents of a ``MissionPackageManifest``."""
    if MARKUP_DECLARATION.search(data):
        raise InvalidPackage("the manifest uses a DOCTYPE or entity declaration", reason="bad_manifest")
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise InvalidPackage(f"the manifest is not well-formed XML: {exc}", reason="bad_manifest") from exc
    if root.tag != "MissionPackageManifest":
        raise InvalidPackage(f"the manifest root is <{root.tag}>", reason="bad_manifest")
    config = _parameters(root.find("Configuration"))
    contents = tuple(_content(element) for element in root.iterfind("Contents/Content"))
    return config.get("uid") or None, config.get("name") or None, contents


def _content(element: etree._Element) -> ManifestContent:
    zip_entry = element.get("zipEntry") or ""
    check_entry_name(zip_entry)
    parameters = _parameters(element)
    return ManifestContent(
        zip_entry=zip_entry,
        uid=parameters.get("uid"),
        name=parameters.get("name"),
        ignore=(element.get("ignore") or "").lower() == "true",
    )


def _parameters(element: etree._Element | None) -> dict[str, str]:
    if element is None:
        return {}
    return {
        name: value
        for parameter in element.iterfind("Parameter")
        if (name := parameter.get("name")) is not None and (value := parameter.get("value")) is not None
    }

"""Data package validation (issue 4 item 3): real ATAK manifests pass, hostile zips are refused.

Every hostile zip is built here byte for byte: traversal names the way a Windows or a
crafted client would write them, a deflate bomb, an entry flood, headers that lie, and
manifests carrying a DOCTYPE.
"""

import io
import struct
import warnings
import zipfile
from pathlib import Path

import pytest

from rallypoint.errors import InvalidPackage
from rallypoint.http.common.zipcheck import (
    DEFAULT_LIMITS,
    MANIFEST_ENTRY,
    ManifestContent,
    PackageLimits,
    check_package,
    parse_manifest,
)
from tests.conftest import FIXTURES, fixture_bytes

PKG_UID = "6b903004-eee5-4f77-9dae-a83f9ace9807"
MARKER_UID = "a0c524c6-0422-4382-9981-e39d1dc71730"
ROUTE_UID = "9017073e-5658-42e7-baa8-b98f3c9c1622"


def manifest(entries: list[str], uid: str = PKG_UID, name: str = "CoT Types") -> bytes:
    """A manifest in ATAK's layout (fixture dp_manifest_cot_types_atak.xml) listing ``entries``."""
    contents = "".join(
        f'<Content ignore="false" zipEntry="{entry}"><Parameter name="uid" value="{entry.split("/")[0]}"/></Content>'
        for entry in entries
    )
    return (
        f'<MissionPackageManifest version="2"><Configuration><Parameter name="uid" value="{uid}"/>'
        f'<Parameter name="name" value="{name}"/></Configuration><Contents>{contents}</Contents>'
        "</MissionPackageManifest>"
    ).encode()


def data_package() -> dict[str, bytes]:
    """Two recorded CoT items at ``<uid>/<uid>.cot`` and their manifest."""
    marker = f"{MARKER_UID}/{MARKER_UID}.cot"
    route = f"{ROUTE_UID}/{ROUTE_UID}.cot"
    return {
        MANIFEST_ENTRY: manifest([marker, route]),
        marker: fixture_bytes("marker_spot_atak.xml"),
        route: fixture_bytes("route_atak.xml"),
    }


def build_zip(entries: dict[str, bytes], *, method: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A zip of ``entries``; names are written exactly as given (no normalisation)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in entries.items():
            archive.writestr(zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0)), data, compress_type=method)
    return buffer.getvalue()


def write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "upload.zip"
    path.write_bytes(data)
    return path


def refused(tmp_path: Path, data: bytes, limits: PackageLimits = DEFAULT_LIMITS) -> str:
    with pytest.raises(InvalidPackage) as caught:
        check_package(write(tmp_path, data), limits)
    return caught.value.reason


def test_real_data_package_is_accepted_and_indexed(tmp_path: Path) -> None:
    info = check_package(write(tmp_path, build_zip(data_package())))
    assert (info.uid, info.name, info.entries) == (PKG_UID, "CoT Types", 3)
    assert info.contents == (
        ManifestContent(f"{MARKER_UID}/{MARKER_UID}.cot", uid=MARKER_UID),
        ManifestContent(f"{ROUTE_UID}/{ROUTE_UID}.cot", uid=ROUTE_UID),
    )
    assert info.uncompressed_bytes == sum(len(data) for data in data_package().values())


def test_recorded_atak_manifest_parses() -> None:
    uid, name, contents = parse_manifest((FIXTURES / "dp_manifest_cot_types_atak.xml").read_bytes())
    assert (uid, name, len(contents)) == (PKG_UID, "CoT Types", 14)
    assert contents[10].name == "R&B 1"
    assert contents[-1].zip_entry == "42dd829989d2b080c2b92b052f48d010/20201216_135257.jpg"


def test_connection_package_manifest_parses() -> None:
    uid, name, contents = parse_manifest((FIXTURES / "dp_manifest_connection_pytak.xml").read_bytes())
    assert (uid, name) == ("123", "test_pref_package.zip")
    assert [content.zip_entry for content in contents] == [
        "test_user_cert.p12",
        "test_truststore-root.p12",
        "test_pref.pref",
    ]


@pytest.mark.parametrize("name", ["../x", "/etc/x", "C:\\x", "C:/x", "a/../../b", "a\\..\\b", "..", "a/.."])
def test_traversal_entry_names_are_refused(tmp_path: Path, name: str) -> None:
    assert refused(tmp_path, build_zip({**data_package(), name: b"payload"})) == "unsafe_name"


@pytest.mark.parametrize("entry", ["../evil.cot", "/abs.cot", "D:\\evil.cot"])
def test_traversal_in_manifest_zip_entry_is_refused(tmp_path: Path, entry: str) -> None:
    package = {**data_package(), MANIFEST_ENTRY: manifest([entry])}
    assert refused(tmp_path, build_zip(package)) == "unsafe_name"


def test_missing_manifest_is_refused(tmp_path: Path) -> None:
    package = data_package()
    del package[MANIFEST_ENTRY]
    assert refused(tmp_path, build_zip(package)) == "no_manifest"


def test_manifest_in_another_folder_does_not_count(tmp_path: Path) -> None:
    package = data_package()
    package["manifest.xml"] = package.pop(MANIFEST_ENTRY)
    assert refused(tmp_path, build_zip(package)) == "no_manifest"


@pytest.mark.parametrize(
    "prologue",
    [
        b'<!DOCTYPE m [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>',
        b'<!DOCTYPE m SYSTEM "file:///etc/passwd">',
        b'<!DOCTYPE m [<!ENTITY x SYSTEM "http://127.0.0.1:9/x">]>',
    ],
)
def test_manifest_with_doctype_is_refused(tmp_path: Path, prologue: bytes) -> None:
    package = {**data_package(), MANIFEST_ENTRY: prologue + manifest(["a/a.cot"])}
    assert refused(tmp_path, build_zip(package)) == "bad_manifest"


@pytest.mark.parametrize(
    "text",
    [b"<MissionPackageManifest>", b"<other/>", b"not xml at all", b"<a:b/>"],
    ids=["open", "root", "text", "ns"],
)
def test_broken_manifest_is_refused(tmp_path: Path, text: bytes) -> None:
    assert refused(tmp_path, build_zip({**data_package(), MANIFEST_ENTRY: text})) == "bad_manifest"


def test_zip_bomb_entry_is_refused(tmp_path: Path) -> None:
    bomb = build_zip({**data_package(), "bomb.bin": bytes(32 * 1024 * 1024)})
    assert len(bomb) < 100 * 1024  # 32 MiB of zeros deflates to ~32 KiB
    assert refused(tmp_path, bomb) == "compression_ratio"


def test_total_uncompressed_size_is_capped(tmp_path: Path) -> None:
    package = build_zip({**data_package(), "photo.jpg": bytes(range(256)) * 64}, method=zipfile.ZIP_STORED)
    limits = PackageLimits(max_uncompressed_bytes=16 * 1024)
    assert refused(tmp_path, package, limits) == "too_large"


def test_entry_count_is_capped(tmp_path: Path) -> None:
    many = {f"f{index}/f{index}.cot": b"x" for index in range(20)}
    limits = PackageLimits(max_entries=10)
    assert refused(tmp_path, build_zip({**data_package(), **many}), limits) == "too_many_entries"
    assert check_package(
        write(tmp_path, build_zip({**data_package(), **many})), PackageLimits(max_entries=23)
    )


def test_encrypted_entry_is_refused(tmp_path: Path) -> None:
    data = bytearray(build_zip({**data_package(), "secret.bin": b"ciphertext"}, method=zipfile.ZIP_STORED))
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # local and central flag fields
        start = data.rfind(signature)
        data[start + offset] |= 0x1  # general-purpose bit 0: encrypted
    assert refused(tmp_path, bytes(data)) == "encrypted"


def test_duplicate_entry_is_refused(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile warns about the duplicate we want
        with zipfile.ZipFile(buffer, "w") as archive:
            for name, data in data_package().items():
                archive.writestr(name, data)
            archive.writestr(MANIFEST_ENTRY, manifest(["other/other.cot"]))
    assert refused(tmp_path, buffer.getvalue()) == "duplicate_entry"


def test_entry_whose_crc_lies_is_refused(tmp_path: Path) -> None:
    data = bytearray(build_zip({**data_package(), "note.txt": b"hello"}, method=zipfile.ZIP_STORED))
    for signature, offset in ((b"PK\x03\x04", 14), (b"PK\x01\x02", 16)):  # local and central CRC fields
        start = data.rfind(signature)
        struct.pack_into("<I", data, start + offset, 0xDEADBEEF)
    assert refused(tmp_path, bytes(data)) == "bad_zip"


@pytest.mark.parametrize("data", [b"", b"PK\x03\x04 truncated", b"\x89PNG\r\n\x1a\n" + bytes(64)])
def test_not_a_zip_is_refused(tmp_path: Path, data: bytes) -> None:
    assert refused(tmp_path, data) == "bad_zip"

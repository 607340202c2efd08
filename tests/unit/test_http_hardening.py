"""The pure parts of the HTTP hardening (issue 15): JSON nesting, served types and file-name
headers, and the archive checks that every stored zip goes through."""

import io
import zipfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.exceptions import HTTPException

from rallypoint.errors import InvalidPackage
from rallypoint.http.common.headers import attachment, served_media_type
from rallypoint.http.common.query import json_depth, parse_json
from rallypoint.http.common.zipcheck import check_archive
from tests.unit.test_zipcheck import build_zip


@pytest.mark.parametrize(
    ("body", "depth"),
    [
        (b"1", 0),
        (b"[]", 1),
        (b'{"a": [1, {"b": []}]}', 4),
        (b'["[[[[", "]]]]", "\\"[["]', 1),  # brackets inside strings, escaped quotes
        (b"[" * 5000, 5000),
    ],
)
def test_json_depth_counts_only_structure(body: bytes, depth: int) -> None:
    assert json_depth(body) == depth


def test_parse_json_refuses_deep_and_invalid_bodies_with_400() -> None:
    assert parse_json(b'{"a": [1]}') == {"a": [1]}
    for body in (b"[" * 33 + b"]" * 33, b"{not json", b"\xff\xfe"):
        with pytest.raises(HTTPException) as caught:
            parse_json(body)
        assert caught.value.status_code == 400


@pytest.mark.parametrize(
    ("stored", "served"),
    [
        ("text/html", "application/octet-stream"),
        ("image/svg+xml", "application/octet-stream"),
        ("TEXT/HTML; charset=utf-8", "application/octet-stream"),
        ("application/x-zip-compressed", "application/x-zip-compressed"),
        ("image/png", "image/png"),
        (None, "application/octet-stream"),
    ],
)
def test_only_passive_types_are_served_as_themselves(stored: str | None, served: str) -> None:
    assert served_media_type(stored) == served


@given(st.text(max_size=80))
def test_a_file_name_never_breaks_out_of_the_disposition_header(name: str) -> None:
    header = attachment(name)
    assert header.isascii()
    assert not any(char in header for char in "\r\n\x00")
    fallback = header.split('filename="', 1)[1].split('"', 1)[0]
    assert header.startswith(f"attachment; filename=\"{fallback}\"; filename*=UTF-8''")
    assert "\\" not in fallback


def test_check_archive_ignores_other_files_and_checks_zips(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_bytes(b"just text")
    assert check_archive(text) is False
    clean = tmp_path / "clean.zip"
    clean.write_bytes(build_zip({"a/b.txt": b"fine"}))
    assert check_archive(clean) is True
    hidden = tmp_path / "hidden.gif"
    hidden.write_bytes(b"GIF89a" + build_zip({"../../x": b"evil"}))
    with pytest.raises(InvalidPackage) as caught:
        check_archive(hidden)
    assert caught.value.reason == "unsafe_name"


def test_many_entries_under_the_floor_are_a_bomb_together(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for index in range(8):
            archive.writestr(f"e{index}.bin", bytes(900_000))
    path = tmp_path / "bomb.zip"
    path.write_bytes(buffer.getvalue())
    with pytest.raises(InvalidPackage) as caught:
        check_archive(path)
    assert caught.value.reason == "compression_ratio"

"""Reception of uploaded files: streamed to a temporary file, hashed and counted as they arrive.

A data package can be hundreds of megabytes, so a body is never held in memory: each chunk
the client sends is counted against the cap, fed to SHA-256 and written to a temporary file
under ``<data_dir>/incoming``. Going over the cap stops reading at once (413 for the caller)
and deletes the partial file. An accepted file is then moved, atomically and under its
SHA-256, into ``<data_dir>/packages``: the name on disk never comes from the client, which
is what makes path tricks in file names harmless here. Names the client gives are only kept
as display names, after :func:`sanitize_name`.

Chunks are written to the file synchronously: they are at most one network read (64 KiB)
and go to the page cache, cheaper than a hop to a worker thread.
"""

import hashlib
import os
import re
import tempfile
import unicodedata
from pathlib import Path
from typing import IO, TYPE_CHECKING, NamedTuple

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from rallypoint.errors import MalformedUpload, UploadTooLarge

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

INCOMING_DIR = "incoming"
PACKAGES_DIR = "packages"
MULTIPART_OVERHEAD_BYTES = 64 * 1024
"""Room for boundaries, part headers and small form fields around the file itself."""
HEAD_BYTES = 4
"""Leading bytes kept for a magic-number check (a zip starts with ``PK\\x03\\x04``)."""
MAX_NAME_CHARS = 200
"""Longest display name kept; file systems allow 255 bytes and the name may gain a suffix."""
DEFAULT_NAME = "file"
COPY_CHUNK_BYTES = 64 * 1024

_UNSAFE_NAME_CHARS = re.compile(r"[^\w.()\[\] +,=@-]")


class Received(NamedTuple):
    """An upload held in a temporary file that the caller must :func:`keep` or :func:`discard`."""

    path: Path
    sha256: str
    size: int
    head: bytes
    filename: str | None
    """The file name the client gave (multipart ``filename``), unsanitised."""
    content_type: str | None


class _Sink:
    """A temporary file that hashes, counts and caps what is written to it."""

    def __init__(self, directory: Path, max_bytes: int) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(dir=directory, prefix="upload-")
        self.path = Path(name)
        self._file = os.fdopen(handle, "wb")
        self._hash = hashlib.sha256()
        self._max_bytes = max_bytes
        self.size = 0
        self.head = b""

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self._max_bytes:
            raise UploadTooLarge(f"upload exceeds the cap of {self._max_bytes} bytes")
        if len(self.head) < HEAD_BYTES:
            self.head = (self.head + data)[:HEAD_BYTES]
        self._hash.update(data)
        self._file.write(data)

    def close(self) -> None:
        self._file.close()

    def received(self, filename: str | None, content_type: str | None) -> Received:
        self.close()
        return Received(self.path, self._hash.hexdigest(), self.size, self.head, filename, content_type)


async def receive_raw(request: Request, data_dir: Path, max_bytes: int) -> Received:
    """The whole request body as the uploaded file."""
    _refuse_declared_length(request, max_bytes)
    sink = _Sink(data_dir / INCOMING_DIR, max_bytes)
    try:
        async for chunk in request.stream():
            sink.write(chunk)
        return sink.received(None, request.headers.get("content-type"))
    except BaseException:
        sink.close()
        sink.path.unlink(missing_ok=True)
        raise


async def receive_part(
    request: Request, data_dir: Path, max_bytes: int, part_names: tuple[str, ...]
) -> Received:
    """The first part named one of ``part_names`` of a ``multipart/form-data`` body; others are skipped."""
    boundary = _boundary(request)
    _refuse_declared_length(request, max_bytes + MULTIPART_OVERHEAD_BYTES)
    form = _FormReader(data_dir / INCOMING_DIR, max_bytes, part_names)
    parser = MultipartParser(boundary, form.callbacks())
    body_bytes = 0
    try:
        async for chunk in request.stream():
            body_bytes += len(chunk)
            if body_bytes > max_bytes + MULTIPART_OVERHEAD_BYTES:
                raise UploadTooLarge(f"upload exceeds the cap of {max_bytes} bytes")
            parser.write(chunk)
        return form.result()
    except FormParserError as exc:
        form.discard()
        raise MalformedUpload(f"malformed multipart body: {exc}") from exc
    except BaseException:
        form.discard()
        raise


def receive_file(source: IO[bytes], data_dir: Path, max_bytes: int) -> Received:
    """A file the server produced (a mission archive), received like an upload (blocking: run
    it in a thread). :class:`UploadTooLarge` past ``max_bytes``."""
    sink = _Sink(data_dir / INCOMING_DIR, max_bytes)
    try:
        while chunk := source.read(COPY_CHUNK_BYTES):
            sink.write(chunk)
        return sink.received(None, None)
    except BaseException:
        sink.close()
        sink.path.unlink(missing_ok=True)
        raise


def keep(received: Received, data_dir: Path) -> Path:
    """Move the file to its content address ``<data_dir>/packages/<sha256>`` (same bytes: kept once)."""
    directory = data_dir / PACKAGES_DIR
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / received.sha256
    if target.exists():
        received.path.unlink(missing_ok=True)
    else:
        os.replace(received.path, target)
    return target


def discard(received: Received) -> None:
    """Delete the temporary file (nothing happens if :func:`keep` already moved it)."""
    received.path.unlink(missing_ok=True)


def stored_path(data_dir: Path, sha256: str) -> Path:
    """Where the file with this SHA-256 lives (``sha256`` must be 64 hex digits: see :func:`is_sha256`)."""
    return data_dir / PACKAGES_DIR / sha256


def is_sha256(text: str) -> bool:
    """Whether ``text`` is a lowercase SHA-256 hex digest, the only form used as a file name."""
    return len(text) == 64 and all(char in "0123456789abcdef" for char in text)


def sanitize_name(name: str | None, default: str = DEFAULT_NAME) -> str:
    """A display name safe in a header, a log line and any client's file system.

    Keeps the last path component only (either slash), drops control characters, replaces
    anything outside letters, digits and ``._-()[] +,=@`` with ``_``, refuses leading dots
    (hidden files, ``..``) and caps the length while keeping the extension.
    """
    if not name:
        return default
    base = re.split(r"[/\\]", unicodedata.normalize("NFC", name))[-1]
    base = "".join(char for char in base if unicodedata.category(char)[0] != "C")
    base = _UNSAFE_NAME_CHARS.sub("_", base).strip(" ").lstrip(".")
    if len(base) > MAX_NAME_CHARS:
        stem, dot, extension = base.rpartition(".")
        keep_extension = dot and len(extension) <= 16
        base = (
            stem[: MAX_NAME_CHARS - len(extension) - 1] + "." + extension
            if keep_extension
            else base[:MAX_NAME_CHARS]
        )
    return base or default


def _boundary(request: Request) -> bytes:
    content_type, options = parse_options_header(request.headers.get("content-type"))
    if content_type != b"multipart/form-data":
        raise MalformedUpload("the body must be multipart/form-data")
    boundary = options.get(b"boundary")
    if not boundary:
        raise MalformedUpload("the multipart content type has no boundary")
    return boundary


def _refuse_declared_length(request: Request, limit: int) -> None:
    """Answer 413 before reading anything when ``Content-Length`` already says too much."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise UploadTooLarge(f"upload of {declared} bytes exceeds the cap")


class _FormReader:
    """Callbacks for python-multipart: the wanted part goes to a :class:`_Sink`, the rest is dropped."""

    def __init__(self, directory: Path, max_bytes: int, part_names: tuple[str, ...]) -> None:
        self._directory = directory
        self._max_bytes = max_bytes
        self._part_names = part_names
        self._headers: dict[bytes, bytes] = {}
        self._field = b""
        self._value = b""
        self._sink: _Sink | None = None
        self._capturing = False
        self._filename: str | None = None
        self._content_type: str | None = None
        self._ended = False

    def callbacks(self) -> "MultipartCallbacks":
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_end": self._end,
        }

    def result(self) -> Received:
        if not self._ended:
            raise MalformedUpload("the multipart body ended early")
        if self._sink is None:
            raise MalformedUpload(f"no part named {' or '.join(self._part_names)}")
        return self._sink.received(self._filename, self._content_type)

    def discard(self) -> None:
        if self._sink is not None:
            self._sink.close()
            self._sink.path.unlink(missing_ok=True)

    def _part_begin(self) -> None:
        self._headers = {}

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._field.strip().lower()] = self._value.strip()
        self._field = self._value = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition"))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if self._sink is not None or name not in self._part_names:
            return
        self._sink = _Sink(self._directory, self._max_bytes)
        self._capturing = True
        filename = options.get(b"filename")
        self._filename = filename.decode("utf-8", "replace") if filename is not None else None
        content_type = self._headers.get(b"content-type")
        self._content_type = content_type.decode("latin-1") if content_type else None

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._capturing and self._sink is not None:
            self._sink.write(data[start:end])

    def _part_end(self) -> None:
        self._capturing = False

    def _end(self) -> None:
        self._ended = True

"""Reading request parameters and bodies with the checks every endpoint needs.

Bad input is the client's mistake: it becomes a 400 (or 413 for a body over its limit)
with a message saying what was wrong, never a 500. A JSON body is read to its byte limit
first, then its nesting is measured by a scan that only looks at brackets and strings, and
only a body within :data:`MAX_JSON_DEPTH` reaches the parser: a deeply nested document
would otherwise exhaust the parser's recursion (a 500, or a dropped connection) and, once
accepted, every later ``json.dumps`` of it.
"""

import json
import re
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request

from rallypoint.cot.timefmt import format_time, is_valid_millis, parse_time
from rallypoint.errors import InvalidEvent

MAX_JSON_DEPTH = 32
"""Deepest nesting of arrays and objects accepted in a body; TAK's documents nest 3-5 levels."""

_JSON_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')
"""A string (skipped whole, so brackets inside it do not count) or one bracket."""


def json_depth(body: bytes) -> int:
    """How deeply the arrays and objects of ``body`` nest (0 for a scalar); no parsing."""
    depth = deepest = 0
    for token in _JSON_TOKENS.finditer(body):
        char = token.group()[:1]
        if char in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in b"]}":
            depth -= 1
    return deepest


def parse_json(body: bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``body`` as JSON, or 400 when it is not JSON or nests deeper than ``max_depth``."""
    if json_depth(body) > max_depth:
        raise HTTPException(400, f"the JSON body nests deeper than {max_depth} levels")
    try:
        return json.loads(body)
    except (UnicodeDecodeError, RecursionError, ValueError) as exc:
        raise HTTPException(400, f"body is not JSON: {exc}") from exc


def time_param(request: Request, name: str) -> int | None:
    """A time query parameter as ms since the epoch: ISO 8601 (CoT style) or integer milliseconds."""
    text = request.query_params.get(name)
    if text is None or text == "":
        return None
    if text.isdigit():
        millis = int(text)
        if not is_valid_millis(millis):
            raise HTTPException(400, f"{name}: {text} ms is out of range")
        return millis
    try:
        return parse_time(text)
    except InvalidEvent as exc:
        raise HTTPException(400, f"{name}: {exc}") from exc


def int_param(request: Request, name: str, default: int, *, low: int, high: int) -> int:
    """An integer query parameter within ``[low, high]``."""
    text = request.query_params.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError as exc:
        raise HTTPException(400, f"{name} must be an integer") from exc
    if not low <= value <= high:
        raise HTTPException(400, f"{name} must be between {low} and {high}")
    return value


def bbox_param(request: Request, name: str = "bbox") -> tuple[float, float, float, float] | None:
    """``minLat,minLon,maxLat,maxLon`` as four floats within the globe, minimums first."""
    text = request.query_params.get(name)
    if text is None or text == "":
        return None
    try:
        min_lat, min_lon, max_lat, max_lon = (float(part) for part in text.split(","))
    except ValueError as exc:
        raise HTTPException(400, f"{name} must be minLat,minLon,maxLat,maxLon") from exc
    if not (-90 <= min_lat <= max_lat <= 90 and -180 <= min_lon <= max_lon <= 180):
        raise HTTPException(400, f"{name} is not a box on the globe (minimums first)")
    return min_lat, min_lon, max_lat, max_lon


def time_text(millis: int) -> str:
    """An ISO 8601 time with milliseconds, as CoT writes it."""
    return format_time(millis)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it exceeds ``limit`` bytes (read no further)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"body over {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"body over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)

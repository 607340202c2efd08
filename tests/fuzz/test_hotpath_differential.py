"""Differential fuzz tests: the native hot path and its pure-Python twin give the same answer on
the same bytes, hostile ones included (CDATA quoting ``</event>``, comments, huge attributes,
invalid UTF-8, truncation, deep nesting, unknown encodings): the same scan, the same event, the
same error type and message, the same frames from the stream splitter."""

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from rallypoint.cot import hotpath
from rallypoint.cot.detail import CAPTURED_TAGS
from rallypoint.cot.stream import StreamDecoder
from rallypoint.cot.xml import XmlLimits, check_detail, parse_detail, parse_event
from rallypoint.errors import RallypointError
from tests.conftest import EVENT_FIXTURES

pytestmark = pytest.mark.skipif(
    hotpath.NATIVE not in hotpath.AVAILABLE, reason="the native extension was not built"
)

WHEN = "2024-05-01T12:00:00.000Z"
HEAD = f'<event version="2.0" uid="U" type="a-f-G" how="m-g" time="{WHEN}" start="{WHEN}" stale="{WHEN}">'
PIECES = [
    b"<point lat='1' lon='2'/>",
    b"<detail>",
    b"</detail>",
    b"<detail a='1'>",
    b"<contact callsign='A&amp;B' endpoint='*:-1:stcp'/>",
    b"<__group name='Cyan' role='Team Member'/>",
    b"<marti><dest callsign='X'/><dest uid='Y'/></marti>",
    b"<__chat id='c' chatroom='All'><chatgrp uid0='a' uid1='b'/></__chat>",
    b"<emergency type='911'>SOS <b>x</b> &#x263A;</emergency>",
    b"<link uid='L' relation='p-p'/>",
    b"<![CDATA[</event><event uid='VICTIM'>]]>",
    b"<!-- </event> -->",
    b"<?pi </event>?>",
    b"<remarks>",
    b"</remarks>",
    b"text &lt; &#10;",
    b"</event>",
    b"</event >",
    b"<x:a xmlns:x='urn:x'/>",
    b"<y:b/>",
    b"\xff\xfe",
    b"\xc3\xa9",
    b"\xe2\x82",
    b"<",
    b"'",
    b">",
    b"&bogus;",
    b"<!DOCTYPE x>",
    b"<a b='" + b"v" * 5000 + b"'/>",
]
DECLARATIONS = [
    b"",
    b"<?xml version='1.0'?>",
    b"<?xml version='1.0' encoding='UTF-8'?>",
    b"<?xml version='1.0' encoding='ISO-8859-1'?>",
    b"<?xml version='1.0' encoding='cp1252'?>",
    b"<?xml version='1.0' encoding='no-such'?>",
]

CHILDREN = [piece for piece in PIECES if piece.endswith(b"/>") or piece.endswith(b"</emergency>")]
CHILDREN += [b"<remarks>" + piece + b"</remarks>" for piece in PIECES[10:13] + PIECES[15:17] + PIECES[20:23]]
_WELL_FORMED = st.builds(
    lambda declaration, children, attribute: (
        declaration
        + HEAD.encode()
        + b"<point lat='1' lon='2'/><detail"
        + attribute
        + b">"
        + b"".join(children)
        + b"</detail></event>"
    ),
    st.sampled_from(DECLARATIONS[:4]),
    st.lists(st.sampled_from(CHILDREN), max_size=8),
    st.sampled_from([b"", b" a='1'", b" a='" + b"\xc3\xa9" * 3000 + b"'"]),
)
"""Mostly well-formed events, hostile content inside."""
_DOCUMENTS = st.one_of(
    _WELL_FORMED,
    st.builds(
        lambda declaration, pieces, cut: (declaration + HEAD.encode() + b"".join(pieces))[: cut or None],
        st.sampled_from(DECLARATIONS),
        st.lists(st.sampled_from(PIECES), max_size=14),
        st.integers(min_value=0, max_value=400),
    ),
)
_NOISE = st.binary(max_size=200)


def _outcome(call: Callable[[], Any]) -> tuple[str, Any]:
    """What a call gave, comparable across implementations: its value or its error."""
    try:
        return ("value", call())
    except (RallypointError, ValueError) as exc:
        return (type(exc).__name__, str(exc))


def _scan_fields(data: bytes, detail_root: bool, max_depth: int) -> tuple[Any, ...]:
    scan = hotpath.scan(data, detail_root=detail_root, max_depth=max_depth, capture=CAPTURED_TAGS)
    nodes = [(n.tag, n.attributes, n.children, n.text) for n in scan.nodes]
    detail = _outcome(lambda: scan.detail_text(data))
    return (scan.root_tag, scan.root, scan.point, scan.detail_found, scan.detail_content_start,
            scan.detail_end, scan.encoding, nodes, detail)  # fmt: skip


def _both(call: Callable[[], Any]) -> tuple[tuple[str, Any], tuple[str, Any]]:
    previous = hotpath.IMPLEMENTATION
    try:
        hotpath.use(hotpath.PYTHON)
        python = _outcome(call)
        hotpath.use(hotpath.NATIVE)
        native = _outcome(call)
    finally:
        hotpath.use(previous)
    return python, native


def _same(call: Callable[[], Any]) -> None:
    python, native = _both(call)
    assert native == python


@given(_DOCUMENTS, st.booleans(), st.integers(min_value=1, max_value=8))
@example(HEAD.encode() + b"<point lat='1' lon='2'/><detail>" + b"<a>" * 40, False, 32)
@example(b"<?xml version='1.0' encoding='cp1252'?><detail><remarks>\x80</remarks></detail>", True, 8)
@example(HEAD.encode() + b"<detail><![CDATA[</event>]]><remarks/></detail></event>", False, 8)
def test_scan_is_the_same(data: bytes, detail_root: bool, max_depth: int) -> None:
    _same(lambda: _scan_fields(data, detail_root, max_depth))


@given(_NOISE, st.booleans())
def test_scan_of_noise_is_the_same(data: bytes, detail_root: bool) -> None:
    _same(lambda: _scan_fields(data, detail_root, 32))


@pytest.mark.parametrize("path", EVENT_FIXTURES, ids=lambda p: p.name)
def test_every_fixture_decodes_the_same(path: Any) -> None:
    data = path.read_bytes()
    python, native = _both(lambda: parse_event(data))
    assert python[0] == "value"
    assert native == python


@given(_DOCUMENTS)
def test_codec_is_the_same(data: bytes) -> None:
    limits = XmlLimits(max_event_bytes=4096, max_depth=6)
    _same(lambda: parse_event(data, limits))
    text = data.decode("utf-8", "replace")
    _same(lambda: parse_detail(text, limits))
    _same(lambda: check_detail(text, limits))


def _frames(chunks: list[bytes]) -> tuple[list[Any], str | None, int]:
    decoder = StreamDecoder(max_xml_bytes=3000, max_protobuf_bytes=3000, max_frames=7)
    frames: list[Any] = []
    for chunk in [*chunks, b"", b""]:
        if decoder.error is not None:
            break
        frames.extend(decoder.feed(chunk))
    error = None if decoder.error is None else f"{type(decoder.error).__name__}: {decoder.error}"
    return frames, error, decoder.pending_bytes


@given(st.lists(_DOCUMENTS, max_size=5), st.lists(st.integers(min_value=1, max_value=80), max_size=30))
@example([HEAD.encode() + b"<detail><![CDATA[</event>]]></detail></event>"], [len(HEAD) + 14, 3, 1])
@example([HEAD.encode() + b"<detail><!-- </eve"], [len(HEAD) + 16])
@example([b"<auth><cot username='a' password='</auth>'/></auth ></auth>"], [1] * 60)
def test_splitter_is_the_same(documents: list[bytes], cuts: list[int]) -> None:
    stream = b"\n".join(documents)
    chunks, at = [], 0
    for cut in cuts:
        chunks.append(stream[at : at + cut])
        at += cut
    chunks.append(stream[at:])
    _same(lambda: _frames(chunks))


@given(
    st.binary(max_size=120).map(lambda b: b.replace(b"\x00", b"<")),
    st.integers(min_value=0, max_value=130),
    st.sampled_from([b"", b"]]>", b"-->", b"?>"]),
    st.sampled_from([b"</event", b"</auth"]),
)
@example(b"a<![CDATA[x]]></event>", 0, b"", b"</event")
@example(b"</event" + b" " * 32 + b">", 0, b"", b"</event")
@example(b"</event" + b" " * 33 + b">", 0, b"", b"</event")
@example(b"xx<![CDA", 0, b"", b"</event")
def test_end_search_is_the_same(buffer: bytes, position: int, closer: bytes, name: bytes) -> None:
    position = min(position, len(buffer))
    _same(lambda: hotpath.xml_end(buffer, position, closer, name))


@given(st.binary(max_size=200).map(lambda b: b.replace(b"\x00", b"<").replace(b"\x01", b"event")))
@example(b"<EvEnT </event <//event <event</EVENT")
@example(b"</eve")
def test_event_tag_count_is_the_same(data: bytes) -> None:
    _same(lambda: hotpath.event_tags(data))

"""The streaming decoder: any split of the byte stream gives the same messages; limits hold."""

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rallypoint.cot.framing import encode_stream_frame
from rallypoint.cot.stream import Frame, FrameKind, StreamDecoder
from rallypoint.errors import EmptyFrame, FrameTooLarge, MalformedFrame, ProtocolError
from tests.conftest import EVENT_FIXTURES, fixture_bytes

pytestmark = pytest.mark.usefixtures("hot_path")
"""Every test here runs against the pure-Python hot path and its native twin."""

LIMIT = 64 * 1024
AUTH = b'<auth><cot username="a" password="b" uid="c"/></auth>'


def _stream() -> tuple[bytes, list[Frame]]:
    parts: list[bytes] = [AUTH]
    expected = [Frame(FrameKind.AUTH, AUTH)]
    for path in EVENT_FIXTURES:
        data = path.read_bytes()
        body = data[data.index(b"<event") :].rstrip()
        parts.append(data + b"\r\n")
        expected.append(Frame(FrameKind.XML, body))
    payload = fixture_bytes("pli_wintak_takproto_vector.stream.bin")
    parts.append(payload)
    expected.append(Frame(FrameKind.PROTOBUF, payload[3:]))
    return b"".join(parts), expected


STREAM, EXPECTED = _stream()


def _decode_in_pieces(data: bytes, cuts: list[int]) -> list[Frame]:
    decoder = StreamDecoder(LIMIT, LIMIT)
    frames: list[Frame] = []
    previous = 0
    for cut in [*sorted(cuts), len(data)]:
        frames += decoder.feed(data[previous:cut])
        previous = cut
    assert decoder.pending_bytes == 0
    return frames


def test_whole_stream() -> None:
    assert _decode_in_pieces(STREAM, []) == EXPECTED


def test_every_single_split_position() -> None:
    for cut in range(len(STREAM)):
        assert _decode_in_pieces(STREAM, [cut]) == EXPECTED, cut


def test_one_byte_at_a_time() -> None:
    assert _decode_in_pieces(STREAM, list(range(len(STREAM)))) == EXPECTED


@given(st.lists(st.integers(0, len(STREAM)), max_size=40))
@settings(max_examples=200)
def test_random_splits(cuts: list[int]) -> None:
    assert _decode_in_pieces(STREAM, cuts) == EXPECTED


def test_closing_tag_with_whitespace() -> None:
    data = b'<event uid="x"><point/></event\n  >'
    assert StreamDecoder(LIMIT, LIMIT).feed(data) == [Frame(FrameKind.XML, data)]


def test_xml_without_end_over_the_cap_is_refused_early() -> None:
    decoder = StreamDecoder(1000, 1000)
    decoder.feed(b"<event " + b"a" * 900)
    assert isinstance(_decode_expecting_error(b"a" * 200, decoder), FrameTooLarge)


def test_protobuf_length_over_the_cap_is_refused_before_the_payload() -> None:
    decoder = StreamDecoder(1000, 1000)
    assert isinstance(_decode_expecting_error(b"\xbf\xe9\x07", decoder), FrameTooLarge)  # 1001 bytes


def _decode_expecting_error(data: bytes, decoder: StreamDecoder | None = None) -> ProtocolError:
    decoder = decoder or StreamDecoder(LIMIT, LIMIT)
    assert decoder.feed(data) == []
    assert decoder.error is not None
    with pytest.raises(type(decoder.error)):
        decoder.feed(b"")
    return decoder.error


def test_broken_varint() -> None:
    assert isinstance(_decode_expecting_error(b"\xbf" + b"\xff" * 11), MalformedFrame)


@pytest.mark.parametrize(
    "garbage", [b"\x00\x01\x02", b"hello", b"<html>", b"<?xml version='1.0'" + b"x" * 300]
)
def test_garbage_between_messages(garbage: bytes) -> None:
    assert isinstance(_decode_expecting_error(garbage), MalformedFrame)


def test_messages_before_garbage_are_kept() -> None:
    decoder = StreamDecoder(LIMIT, LIMIT)
    good = fixture_bytes("pli_itak.xml").strip()
    assert decoder.feed(good + b"\x00garbage") == [Frame(FrameKind.XML, good)]
    assert isinstance(decoder.error, MalformedFrame)


def test_trickled_partial_message_is_scanned_linearly() -> None:
    """One byte at a time must not rescan the whole pending message on every byte."""
    decoder = StreamDecoder(LIMIT, LIMIT)
    body = b"<event " + b"x" * 20000
    for index in range(len(body)):
        decoder.feed(body[index : index + 1])
    assert decoder.pending_bytes == len(body)
    assert decoder.feed(b"</event>") == [Frame(FrameKind.XML, body + b"</event>")]


@given(st.binary(max_size=200))
def test_random_bytes_raise_only_protocol_errors(data: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        StreamDecoder(1024, 1024).feed(data)


def test_protobuf_frames_back_to_back() -> None:
    payloads = [b"\x12\x00", b"x" * 300]
    data = b"".join(encode_stream_frame(p) for p in payloads)
    assert [f.payload for f in _decode_in_pieces(data, list(range(len(data))))] == payloads


QUOTING = [
    b"<![CDATA[</event><event uid='VICTIM'>]]>",
    b"<!-- </event><event uid='VICTIM'> -->",
    b"<?note </event><event uid='VICTIM'> ?>",
    b"<![CDATA[ ]] > </event > ]]><!-- -- </event> -->",
]


@pytest.mark.parametrize("quoted", QUOTING, ids=["cdata", "comment", "pi", "mixed"])
def test_end_tag_quoted_as_text_does_not_end_the_message(quoted: bytes) -> None:
    """``</event>`` inside CDATA, a comment or a processing instruction is text, not the end."""
    event = b'<event uid="A"><point/><detail><remarks>' + quoted + b"</remarks></detail></event>"
    data = event + b"\n" + event
    expected = [Frame(FrameKind.XML, event), Frame(FrameKind.XML, event)]
    for cut in range(len(data) + 1):
        assert _decode_in_pieces(data, [cut]) == expected, cut
    assert _decode_in_pieces(data, list(range(len(data)))) == expected


def test_trickled_cdata_is_scanned_linearly() -> None:
    decoder = StreamDecoder(LIMIT, LIMIT)
    body = b"<event><![CDATA[" + b"x" * 20000
    for index in range(len(body)):
        decoder.feed(body[index : index + 1])
    end = b"</event>]]></event>"
    assert decoder.feed(end) == [Frame(FrameKind.XML, body + end)]


def test_end_tag_with_too_much_space_is_not_an_end() -> None:
    """``</event`` + 33 spaces + ``>`` is not taken as the end (no client writes it)."""
    decoder = StreamDecoder(LIMIT, LIMIT)
    spaced = b"<event>" + b"</event" + b" " * 32 + b">"
    assert decoder.feed(spaced) == [Frame(FrameKind.XML, spaced)]
    assert decoder.feed(b"<event></event" + b" " * 33 + b">") == []


def test_empty_protobuf_frame_breaks_the_stream() -> None:
    decoder = StreamDecoder(LIMIT, LIMIT)
    good = encode_stream_frame(b"\x12\x00")
    assert decoder.feed(good + b"\xbf\x00" + good) == [Frame(FrameKind.PROTOBUF, b"\x12\x00")]
    assert isinstance(decoder.error, EmptyFrame)
    assert decoder.error.reason == "empty_frame"


def test_one_feed_returns_at_most_max_frames() -> None:
    decoder = StreamDecoder(LIMIT, LIMIT, max_frames=3)
    data = encode_stream_frame(b"\x12\x00") * 7
    sizes = [len(decoder.feed(data))]
    while decoder.backlog:
        sizes.append(len(decoder.feed(b"")))
    assert sizes == [3, 3, 1]
    assert decoder.pending_bytes == 0

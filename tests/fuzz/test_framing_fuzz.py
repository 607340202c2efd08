"""Property and fuzz tests of the one stream decoder production runs (``cot/stream.py``): any split
of the bytes gives the same messages, ``</event>`` quoted as text never ends one, what we relay
cannot be cut into a second event, and hostile bytes raise only ProtocolError."""

from contextlib import suppress
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from rallypoint.cot.framing import (
    MAX_STREAM_HEADER,
    decode_mesh,
    decode_varint,
    encode_mesh,
    encode_stream_frame,
    encode_varint,
)
from rallypoint.cot.protobuf import proto_to_event
from rallypoint.cot.stream import Frame, FrameKind, StreamDecoder
from rallypoint.cot.xml import parse_event, serialize_event
from rallypoint.errors import ProtocolError

pytestmark = pytest.mark.usefixtures("hot_path")
"""Every test here runs against the pure-Python hot path and its native twin."""

VECTOR = Path(__file__).parent.parent / "fixtures" / "cot" / "pli_wintak_takproto_vector"
STREAM_BYTES = VECTOR.with_suffix(".stream.bin").read_bytes()
PAYLOAD = STREAM_BYTES[3:]
MAX_PAYLOAD = 4096

_PAYLOADS = st.lists(st.binary(min_size=1, max_size=300), max_size=20)

WHEN = "2024-05-01T12:00:00.000Z"
_TEXT = st.text(st.sampled_from("ab </>event=\"'![CDATA-?]"), max_size=40)
"""Text made of the characters of every token the decoder looks for."""


def _quoted(text: str, how: str) -> str:
    """``text`` inside a CDATA section, comment or processing instruction, kept well-formed (and
    without ``<!``, which the codec refuses anywhere as a possible DOCTYPE)."""
    text = text.replace("<!", "< !")
    if how == "cdata":
        return "<![CDATA[" + text.replace("]]>", "]] >") + "]]>"
    if how == "comment":
        return "<!--" + text.replace("--", "- -").rstrip("-") + "-->"
    return "<?pi " + text.replace("?>", "? >") + "?>"


def _event(uid: str, quoted: str) -> bytes:
    head = f'<event version="2.0" uid="{uid}" type="a-f-G" how="m-g" time="{WHEN}" start="{WHEN}"'
    return f'{head} stale="{WHEN}"><point lat="1" lon="2"/><detail><remarks>{quoted}</remarks></detail></event>'.encode()


_QUOTED_EVENTS = st.lists(
    st.builds(_quoted, _TEXT, st.sampled_from(["cdata", "comment", "pi"])), min_size=1, max_size=6
)


def _decode_in_pieces(
    stream: bytes, cuts: list[int], limit: int = MAX_PAYLOAD, max_frames: int = 512
) -> list[Frame]:
    decoder = StreamDecoder(limit, limit, max_frames)
    frames: list[Frame] = []
    start = 0
    for cut in [*sorted(cuts), len(stream)]:
        frames.extend(decoder.feed(stream[start:cut]))
        while decoder.backlog:
            frames.extend(decoder.feed(b""))
        start = cut
    assert decoder.error is None
    assert decoder.pending_bytes == 0
    return frames


def _feed_in_pieces(stream: bytes, cuts: list[int], max_payload: int = MAX_PAYLOAD) -> list[bytes]:
    frames = _decode_in_pieces(stream, cuts, max_payload)
    assert all(frame.kind is FrameKind.PROTOBUF for frame in frames)
    return [frame.payload for frame in frames]


@given(st.integers(0, 2**64 - 1), st.binary(max_size=4), st.binary(max_size=4))
def test_varint_round_trip(value: int, before: bytes, after: bytes) -> None:
    encoded = encode_varint(value)
    assert len(encoded) <= 10
    assert decode_varint(before + encoded + after, len(before)) == (value, len(before) + len(encoded))


def test_reference_frames_split_at_every_position() -> None:
    payloads = [PAYLOAD, b"x", b"x" * 130, PAYLOAD]
    stream = b"".join(encode_stream_frame(payload) for payload in payloads)
    for cut in range(len(stream) + 1):
        assert _feed_in_pieces(stream, [cut]) == payloads, cut
    for first in range(0, len(stream), 7):
        for second in range(first, len(stream), 31):
            assert _feed_in_pieces(stream, [first, second]) == payloads


@given(_PAYLOADS, st.lists(st.integers(0, 7000), max_size=30))
def test_many_frames_split_at_random_positions(payloads: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(encode_stream_frame(payload) for payload in payloads)
    assert _feed_in_pieces(stream, [cut for cut in cuts if cut <= len(stream)]) == payloads


@given(_PAYLOADS)
def test_many_frames_one_byte_at_a_time(payloads: list[bytes]) -> None:
    stream = b"".join(encode_stream_frame(payload) for payload in payloads)
    assert _feed_in_pieces(stream, list(range(len(stream)))) == payloads


@given(st.binary(max_size=2000))
def test_mesh_round_trip(payload: bytes) -> None:
    assert decode_mesh(encode_mesh(payload), max_payload=2000) == payload


@given(st.binary(max_size=600), st.lists(st.integers(0, 600), max_size=8))
@example(b"\xbf" + b"\x80" * 11, [])
@example(b"\xbf\xff\xff\xff\x0f", [1, 2])
@example(STREAM_BYTES[:-1] + b"\xbf", [])
def test_random_stream_bytes_raise_only_protocol_errors(data: bytes, cuts: list[int]) -> None:
    decoder = StreamDecoder(256, 256)
    start = 0
    with suppress(ProtocolError):
        for cut in [*sorted(cut for cut in cuts if cut <= len(data)), len(data)]:
            for frame in decoder.feed(data[start:cut]):
                assert len(frame.payload) <= 256
            if decoder.error is None and not decoder.backlog:  # one capped message at most is held
                assert decoder.pending_bytes <= 256 + MAX_STREAM_HEADER
            start = cut


@given(_QUOTED_EVENTS, st.lists(st.integers(0, 4000), max_size=12))
def test_quoted_end_tags_never_end_a_message_whatever_the_split(quotes: list[str], cuts: list[int]) -> None:
    events = [_event(f"U{index}", quoted) for index, quoted in enumerate(quotes)]
    stream = b"\n".join(events) + encode_stream_frame(PAYLOAD)
    expected = [Frame(FrameKind.XML, event) for event in events] + [Frame(FrameKind.PROTOBUF, PAYLOAD)]
    assert _decode_in_pieces(stream, [cut for cut in cuts if cut <= len(stream)]) == expected


@given(_QUOTED_EVENTS, st.integers(1, 5))
def test_a_bounded_feed_returns_the_same_messages(quotes: list[str], max_frames: int) -> None:
    events = [_event(f"U{index}", quoted) for index, quoted in enumerate(quotes)]
    stream = b"".join(events) + encode_stream_frame(PAYLOAD) * 3
    assert _decode_in_pieces(stream, [], max_frames=max_frames) == _decode_in_pieces(stream, [])


@given(_QUOTED_EVENTS)
def test_what_we_relay_holds_one_event_tag_pair(quotes: list[str]) -> None:
    """A receiver splitting on ``</event>`` (the laxest TAK splitters) finds exactly our one event."""
    for quoted in quotes:
        relayed = serialize_event(parse_event(_event("A", quoted)))
        assert relayed.lower().count(b"</event") == 1
        assert relayed.lower().count(b"<event") == 1
        assert relayed.endswith(b"</event>")
        assert parse_event(relayed).uid == "A"


@given(st.binary(max_size=600))
@example(b"\xbf\x01\xbf" + PAYLOAD)
@example(b"\xbf\x81")
def test_random_datagrams_raise_only_protocol_errors(data: bytes) -> None:
    with suppress(ProtocolError):
        decode_mesh(data, max_payload=512)


def _decode_or_protocol_error(payload: bytes) -> None:
    with suppress(ProtocolError):
        proto_to_event(payload)


@given(st.binary(max_size=600))
@example(b"\x12\x03\x2a\x01\xff")
@example(b"\x12\x04\x7a\x02\x0a\x00")
def test_random_payloads_raise_only_protocol_errors(payload: bytes) -> None:
    _decode_or_protocol_error(payload)


@given(st.integers(0, len(PAYLOAD) - 1), st.integers(0, 255))
def test_reference_payload_with_one_byte_changed(position: int, value: int) -> None:
    _decode_or_protocol_error(PAYLOAD[:position] + bytes((value,)) + PAYLOAD[position + 1 :])


@pytest.mark.parametrize("length", range(len(PAYLOAD)))
def test_reference_payload_cut_short(length: int) -> None:
    _decode_or_protocol_error(PAYLOAD[:length])

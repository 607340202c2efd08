"""Property and fuzz tests: framing survives any split, and hostile bytes raise only ProtocolError."""

from contextlib import suppress
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from rallypoint.cot.framing import (
    StreamFramer,
    decode_mesh,
    decode_varint,
    encode_mesh,
    encode_stream_frame,
    encode_varint,
)
from rallypoint.cot.protobuf import proto_to_event
from rallypoint.errors import ProtocolError

VECTOR = Path(__file__).parent.parent / "fixtures" / "cot" / "pli_wintak_takproto_vector"
STREAM_BYTES = VECTOR.with_suffix(".stream.bin").read_bytes()
PAYLOAD = STREAM_BYTES[3:]
MAX_PAYLOAD = 4096

_PAYLOADS = st.lists(st.binary(max_size=300), max_size=20)


def _feed_in_pieces(stream: bytes, cuts: list[int], max_payload: int = MAX_PAYLOAD) -> list[bytes]:
    framer = StreamFramer(max_payload=max_payload)
    payloads: list[bytes] = []
    start = 0
    for cut in [*sorted(cuts), len(stream)]:
        payloads.extend(framer.feed(stream[start:cut]))
        start = cut
    assert framer.buffered == 0
    return payloads


@given(st.integers(0, 2**64 - 1), st.binary(max_size=4), st.binary(max_size=4))
def test_varint_round_trip(value: int, before: bytes, after: bytes) -> None:
    encoded = encode_varint(value)
    assert len(encoded) <= 10
    assert decode_varint(before + encoded + after, len(before)) == (value, len(before) + len(encoded))


def test_reference_frames_split_at_every_position() -> None:
    payloads = [PAYLOAD, b"", b"x" * 130, PAYLOAD]
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
    framer = StreamFramer(max_payload=256)
    start = 0
    with suppress(ProtocolError):
        for cut in [*sorted(cut for cut in cuts if cut <= len(data)), len(data)]:
            for payload in framer.feed(data[start:cut]):
                assert len(payload) <= 256
            assert framer.buffered <= framer.buffer_limit
            start = cut


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

"""TAK protocol v1 framing: varints, stream frames fed in any pieces, mesh headers."""

from pathlib import Path

import pytest

from rallypoint.cot.framing import (
    MAX_STREAM_HEADER,
    StreamFramer,
    decode_mesh,
    decode_varint,
    encode_mesh,
    encode_stream_frame,
    encode_varint,
)
from rallypoint.errors import FrameTooLarge, MalformedFrame

VECTOR = Path(__file__).parent.parent / "fixtures" / "cot" / "pli_wintak_takproto_vector"
STREAM_BYTES = VECTOR.with_suffix(".stream.bin").read_bytes()
MESH_BYTES = VECTOR.with_suffix(".mesh.bin").read_bytes()
PAYLOAD = MESH_BYTES[3:]

VARINTS = [
    (0, b"\x00"),
    (1, b"\x01"),
    (127, b"\x7f"),
    (128, b"\x80\x01"),
    (300, b"\xac\x02"),
    (307, b"\xb3\x02"),
    (16383, b"\xff\x7f"),
    (16384, b"\x80\x80\x01"),
    (2**63, b"\x80" * 9 + b"\x01"),
    (2**64 - 1, b"\xff" * 9 + b"\x01"),
]


@pytest.mark.parametrize(("value", "encoded"), VARINTS)
def test_varint_known_encodings(value: int, encoded: bytes) -> None:
    assert encode_varint(value) == encoded
    assert decode_varint(b"junk" + encoded + b"tail", 4) == (value, 4 + len(encoded))


@pytest.mark.parametrize("value", [-1, 2**64])
def test_encode_varint_refuses_values_outside_uint64(value: int) -> None:
    with pytest.raises(ValueError, match="varint"):
        encode_varint(value)


def test_decode_varint_accepts_padded_encodings() -> None:
    assert decode_varint(b"\x80\x00") == (0, 2)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x80",
        b"\xff\xff",
        b"\x80" * 10 + b"\x01",  # eleven bytes
        b"\xff" * 9 + b"\x02",  # ten bytes but 65 bits
        b"\xff" * 10 + b"\x7f",
    ],
)
def test_decode_varint_rejects_broken_varints(data: bytes) -> None:
    with pytest.raises(MalformedFrame):
        decode_varint(data)


def test_stream_and_mesh_encoders_reproduce_the_reference_vector() -> None:
    assert STREAM_BYTES[:3] == b"\xbf\xb3\x02"
    assert STREAM_BYTES[3:] == PAYLOAD
    assert encode_stream_frame(PAYLOAD) == STREAM_BYTES
    assert encode_mesh(PAYLOAD) == MESH_BYTES


def test_framer_reads_the_reference_vector_whole() -> None:
    framer = StreamFramer(max_payload=1024)
    assert framer.feed(STREAM_BYTES) == [PAYLOAD]
    assert framer.buffered == 0


def test_framer_reads_the_reference_vector_one_byte_at_a_time() -> None:
    framer = StreamFramer(max_payload=1024)
    payloads = []
    for index in range(len(STREAM_BYTES)):
        got = framer.feed(STREAM_BYTES[index : index + 1])
        if index < len(STREAM_BYTES) - 1:
            assert got == []
            assert framer.buffered == index + 1
        payloads.extend(got)
    assert payloads == [PAYLOAD]
    assert all(type(payload) is bytes for payload in payloads)


def test_framer_splits_back_to_back_frames_of_every_length_class() -> None:
    payloads = [b"", b"x", b"a" * 127, b"b" * 128, b"c" * 16383, b"d" * 16384]
    stream = b"".join(encode_stream_frame(payload) for payload in payloads)
    assert StreamFramer(max_payload=20000).feed(stream) == payloads


def test_framer_accepts_bytearray_and_memoryview_and_returns_bytes() -> None:
    framer = StreamFramer(max_payload=1024)
    got = framer.feed(bytearray(STREAM_BYTES[:100])) + framer.feed(memoryview(STREAM_BYTES)[100:])
    assert got == [PAYLOAD]
    assert type(got[0]) is bytes
    fresh = StreamFramer(max_payload=1024).feed(bytearray(STREAM_BYTES))
    assert fresh == [PAYLOAD]
    assert type(fresh[0]) is bytes


def test_truncated_frame_waits_for_the_rest() -> None:
    framer = StreamFramer(max_payload=1024)
    assert framer.feed(STREAM_BYTES + STREAM_BYTES[:-1]) == [PAYLOAD]
    assert framer.buffered == len(STREAM_BYTES) - 1
    assert framer.feed(STREAM_BYTES[-1:] + STREAM_BYTES[:2]) == [PAYLOAD]
    assert framer.buffered == 2


def test_payload_at_the_cap_is_accepted() -> None:
    framer = StreamFramer(max_payload=300)
    assert framer.feed(encode_stream_frame(b"z" * 300)) == [b"z" * 300]


def test_declared_length_over_the_cap_fails_before_the_payload_arrives() -> None:
    framer = StreamFramer(max_payload=300)
    with pytest.raises(FrameTooLarge):
        framer.feed(b"\xbf" + encode_varint(301))


def test_partial_length_varint_already_over_the_cap_fails_at_once() -> None:
    framer = StreamFramer(max_payload=1000)
    with pytest.raises(FrameTooLarge):
        framer.feed(b"\xbf\xff\xff")  # at least 16383 whatever follows


def test_huge_declared_length_is_refused() -> None:
    with pytest.raises(FrameTooLarge):
        StreamFramer(max_payload=1024).feed(b"\xbf" + encode_varint(2**64 - 1))


def test_buffer_never_exceeds_its_limit() -> None:
    framer = StreamFramer(max_payload=512)
    frame = encode_stream_frame(b"q" * 512)
    stream = frame * 3
    for size in (1, 7, 100, 513, 600):
        framer = StreamFramer(max_payload=512)
        for start in range(0, len(stream), size):
            framer.feed(stream[start : start + size])
            assert framer.buffered <= framer.buffer_limit == 512 + MAX_STREAM_HEADER
        assert framer.buffered == 0


@pytest.mark.parametrize(
    "stream",
    [
        b"<event/>",
        b"\x00",
        STREAM_BYTES + b"\xbe",
        STREAM_BYTES + b"\n",
    ],
)
def test_wrong_magic_is_malformed(stream: bytes) -> None:
    with pytest.raises(MalformedFrame, match="0xbf"):
        StreamFramer(max_payload=1024).feed(stream)


def test_wrong_magic_after_a_wait_is_malformed() -> None:
    framer = StreamFramer(max_payload=1024)
    framer.feed(STREAM_BYTES[:10])
    with pytest.raises(MalformedFrame):
        framer.feed(STREAM_BYTES[10:] + b"X")


def test_eleven_byte_length_varint_is_malformed() -> None:
    with pytest.raises(MalformedFrame, match="10 bytes"):
        StreamFramer(max_payload=2**70).feed(b"\xbf" + b"\x80" * 11)


def test_eleven_byte_length_varint_fed_byte_by_byte_is_malformed() -> None:
    framer = StreamFramer(max_payload=2**70)
    data = b"\xbf" + b"\x80" * 9
    for index in range(len(data)):
        assert framer.feed(data[index : index + 1]) == []
    with pytest.raises(MalformedFrame):
        framer.feed(b"\x80")  # a tenth byte that promises an eleventh


def test_mesh_reference_vector_decodes_to_the_stream_payload() -> None:
    assert decode_mesh(MESH_BYTES, max_payload=1024) == STREAM_BYTES[3:]


def test_mesh_with_empty_payload() -> None:
    assert decode_mesh(b"\xbf\x01\xbf", max_payload=10) == b""


@pytest.mark.parametrize(
    "datagram",
    [
        b"",
        b"\xbf",
        b"\xbf\x01",
        b"\xbe\x01\xbf" + PAYLOAD,
        b"\xbf\x02\xbf" + PAYLOAD,
        b"\xbf\x00\xbf" + PAYLOAD,
        b"\xbf\x01\xbe" + PAYLOAD,
        b"\xbf" + b"\xff" * 11,
        b"<?xml version='1.0'?><event/>",
    ],
)
def test_broken_mesh_header_is_malformed(datagram: bytes) -> None:
    with pytest.raises(MalformedFrame):
        decode_mesh(datagram, max_payload=1024)


def test_mesh_version_is_a_varint() -> None:
    assert decode_mesh(b"\xbf\x81\x00\xbf" + PAYLOAD, max_payload=1024) == PAYLOAD


def test_mesh_payload_over_the_cap_is_too_large() -> None:
    with pytest.raises(FrameTooLarge):
        decode_mesh(MESH_BYTES, max_payload=len(PAYLOAD) - 1)
    assert decode_mesh(MESH_BYTES, max_payload=len(PAYLOAD)) == PAYLOAD

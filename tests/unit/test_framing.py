"""TAK protocol v1 framing: varints, stream frames fed in any pieces, mesh headers."""

from pathlib import Path

import pytest

from rallypoint.cot.framing import (
    MAX_STREAM_HEADER,
    decode_mesh,
    decode_varint,
    encode_mesh,
    encode_stream_frame,
    encode_varint,
)
from rallypoint.cot.stream import FrameKind, StreamDecoder
from rallypoint.errors import EmptyFrame, FrameTooLarge, MalformedFrame

pytestmark = pytest.mark.usefixtures("hot_path")
"""Every test here runs against the pure-Python hot path and its native twin."""

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


def _decoder(limit: int) -> StreamDecoder:
    return StreamDecoder(limit, limit)


def _feed(decoder: StreamDecoder, data: bytes) -> list[bytes]:
    """Payloads of the frames ``data`` completes; the decoder's protocol error, if any, raised."""
    frames = decoder.feed(data)
    if decoder.error is not None:
        raise decoder.error
    assert all(frame.kind is FrameKind.PROTOBUF for frame in frames)
    return [frame.payload for frame in frames]


def test_decoder_reads_the_reference_vector_whole() -> None:
    decoder = _decoder(1024)
    assert _feed(decoder, STREAM_BYTES) == [PAYLOAD]
    assert decoder.pending_bytes == 0


def test_decoder_reads_the_reference_vector_one_byte_at_a_time() -> None:
    decoder = _decoder(1024)
    payloads = []
    for index in range(len(STREAM_BYTES)):
        got = _feed(decoder, STREAM_BYTES[index : index + 1])
        if index < len(STREAM_BYTES) - 1:
            assert got == []
            assert decoder.pending_bytes == index + 1
        payloads.extend(got)
    assert payloads == [PAYLOAD]
    assert all(type(payload) is bytes for payload in payloads)


def test_decoder_splits_back_to_back_frames_of_every_length_class() -> None:
    payloads = [b"x", b"a" * 127, b"b" * 128, b"c" * 16383, b"d" * 16384]
    stream = b"".join(encode_stream_frame(payload) for payload in payloads)
    assert _feed(_decoder(20000), stream) == payloads


def test_truncated_frame_waits_for_the_rest() -> None:
    decoder = _decoder(1024)
    assert _feed(decoder, STREAM_BYTES + STREAM_BYTES[:-1]) == [PAYLOAD]
    assert decoder.pending_bytes == len(STREAM_BYTES) - 1
    assert _feed(decoder, STREAM_BYTES[-1:] + STREAM_BYTES[:2]) == [PAYLOAD]
    assert decoder.pending_bytes == 2


def test_payload_at_the_cap_is_accepted() -> None:
    assert _feed(_decoder(300), encode_stream_frame(b"z" * 300)) == [b"z" * 300]


def test_declared_length_over_the_cap_fails_before_the_payload_arrives() -> None:
    with pytest.raises(FrameTooLarge):
        _feed(_decoder(300), b"\xbf" + encode_varint(301))


def test_partial_length_varint_already_over_the_cap_fails_at_once() -> None:
    with pytest.raises(FrameTooLarge):
        _feed(_decoder(1000), b"\xbf\xff\xff")  # at least 16383 whatever follows


def test_huge_declared_length_is_refused() -> None:
    with pytest.raises(FrameTooLarge):
        _feed(_decoder(1024), b"\xbf" + encode_varint(2**64 - 1))


def test_empty_frame_is_refused() -> None:
    with pytest.raises(EmptyFrame):
        _feed(_decoder(1024), STREAM_BYTES + b"\xbf\x00")


def test_buffer_never_exceeds_one_capped_frame() -> None:
    frame = encode_stream_frame(b"q" * 512)
    stream = frame * 3
    for size in (1, 7, 100, 513, 600):
        decoder = _decoder(512)
        for start in range(0, len(stream), size):
            _feed(decoder, stream[start : start + size])
            assert decoder.pending_bytes <= 512 + MAX_STREAM_HEADER
        assert decoder.pending_bytes == 0


@pytest.mark.parametrize("stream", [b"\x00", STREAM_BYTES + b"\xbe", STREAM_BYTES + b"X"])
def test_wrong_byte_between_messages_is_malformed(stream: bytes) -> None:
    with pytest.raises(MalformedFrame, match="unexpected byte"):
        _feed(_decoder(1024), stream)


def test_wrong_byte_after_a_wait_is_malformed() -> None:
    decoder = _decoder(1024)
    _feed(decoder, STREAM_BYTES[:10])
    with pytest.raises(MalformedFrame):
        _feed(decoder, STREAM_BYTES[10:] + b"X")


def test_eleven_byte_length_varint_is_malformed() -> None:
    with pytest.raises(MalformedFrame, match="10 bytes"):
        _feed(_decoder(2**70), b"\xbf" + b"\x80" * 11)


def test_eleven_byte_length_varint_fed_byte_by_byte_is_malformed() -> None:
    decoder = _decoder(2**70)
    data = b"\xbf" + b"\x80" * 9
    for index in range(len(data)):
        assert _feed(decoder, data[index : index + 1]) == []
    with pytest.raises(MalformedFrame):
        _feed(decoder, b"\x80")  # a tenth byte that promises an eleventh


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

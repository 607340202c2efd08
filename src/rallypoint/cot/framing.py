"""TAK protocol version 1 framing: stream frames on TCP/TLS, mesh headers on UDP.

A stream is ``0xbf <varint length> <payload>`` repeated back to back; a mesh datagram is
``0xbf 0x01 0xbf <payload>`` with the payload running to its end (reference §2.2).
Streams are split by the one stream decoder, :class:`rallypoint.cot.stream.StreamDecoder`,
which also frames XML; this module holds the pieces it and the encoders share.
Everything here works on bytes only. A peer that breaks the framing gets a
:class:`~rallypoint.errors.ProtocolError`; we never skip ahead to the next ``0xbf`` as
commo does, because on a server closing the connection is simpler and safer than guessing.
"""

from rallypoint.errors import FrameTooLarge, MalformedFrame

MAGIC = 0xBF
"""First byte of every stream frame and mesh header."""

MESH_VERSION = 1
"""The only TAK protocol version that exists."""

MESH_HEADER = bytes((MAGIC, MESH_VERSION, MAGIC))

MAX_VARINT_BYTES = 10
"""A protobuf varint carries at most 64 bits, seven per byte."""

MAX_STREAM_HEADER = 1 + MAX_VARINT_BYTES
"""Magic byte plus the longest legal length varint."""

DEFAULT_MAX_PAYLOAD = 64 * 1024
"""Same cap as an XML event: protobuf payloads are smaller than the XML they replace."""

_UINT64_LIMIT = 1 << 64


def encode_varint(value: int) -> bytes:
    """Encode an unsigned 64-bit integer as a protobuf varint."""
    if not 0 <= value < _UINT64_LIMIT:
        raise ValueError(f"varint value {value} is outside 0..2**64-1")
    if value < 0x80:
        return bytes((value,))
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def decode_varint(data: bytes, offset: int = 0) -> tuple[int, int]:
    """Decode the varint at ``offset``; return its value and the offset just past it."""
    value, end = scan_varint(data, offset, len(data))
    if end < 0:
        raise MalformedFrame("varint is cut short")
    return value, end


def scan_varint(data: bytes | bytearray, position: int, end: int) -> tuple[int, int]:
    """Read a varint from ``data[position:end]``.

    Returns ``(value, next_position)``, or ``(value_so_far, -1)`` when the bytes stop in
    the middle of it (a framer then waits for more). Raises on an 11th byte or a value
    of 64 bits or more, which no legal encoder writes.
    """
    value = 0
    shift = 0
    while position < end:
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            if value >= _UINT64_LIMIT:
                raise MalformedFrame("varint overflows 64 bits")
            return value, position
        shift += 7
        if shift >= 7 * MAX_VARINT_BYTES:
            raise MalformedFrame(f"varint longer than {MAX_VARINT_BYTES} bytes")
    return value, -1


def encode_stream_frame(payload: bytes) -> bytes:
    """Wrap one ``TakMessage`` payload as a stream frame."""
    return bytes((MAGIC,)) + encode_varint(len(payload)) + payload


def encode_mesh(payload: bytes) -> bytes:
    """Wrap one ``TakMessage`` payload as a mesh (UDP) datagram."""
    return MESH_HEADER + payload


def decode_mesh(datagram: bytes, max_payload: int = DEFAULT_MAX_PAYLOAD) -> bytes:
    """Return the ``TakMessage`` payload of a mesh datagram after checking its header."""
    if not datagram or datagram[0] != MAGIC:
        raise MalformedFrame("mesh datagram does not start with 0xbf")
    version, position = decode_varint(datagram, 1)
    if version != MESH_VERSION:
        raise MalformedFrame(f"mesh datagram declares unsupported protocol version {version}")
    if position >= len(datagram) or datagram[position] != MAGIC:
        raise MalformedFrame("mesh header lacks its closing 0xbf")
    payload = datagram[position + 1 :]
    if len(payload) > max_payload:
        raise FrameTooLarge(f"mesh payload of {len(payload)} bytes exceeds the cap of {max_payload}")
    return payload

"""TAK protocol version 1 framing: stream frames on TCP/TLS, mesh headers on UDP.

A stream is ``0xbf <varint length> <payload>`` repeated back to back; a mesh datagram is
``0xbf 0x01 0xbf <payload>`` with the payload running to its end (reference §2.2).
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


class StreamFramer:
    """Splits a TAK protocol v1 byte stream into payloads, whatever the read sizes.

    Only the one incomplete frame at the end of the input is kept, and its declared length
    is checked against ``max_payload`` before any of it is buffered, so the buffer never
    holds more than :attr:`buffer_limit` bytes. After a :class:`ProtocolError` the stream
    cannot be trusted any more: the caller closes the connection and drops the framer.
    """

    __slots__ = ("_buffer", "_wanted", "buffer_limit", "max_payload")

    def __init__(self, max_payload: int = DEFAULT_MAX_PAYLOAD) -> None:
        self.max_payload = max_payload
        self.buffer_limit = max_payload + MAX_STREAM_HEADER
        """Most bytes ever kept between calls: one header and one capped payload."""
        self._buffer = bytearray()
        self._wanted = 0
        """Buffer length at which the pending frame (or its header) can be complete."""

    @property
    def buffered(self) -> int:
        """Bytes of an incomplete frame held until more data arrives."""
        return len(self._buffer)

    def feed(self, data: bytes | bytearray | memoryview) -> list[bytes]:
        """Add bytes read from the stream; return the payloads of the frames now complete."""
        buffer = self._buffer
        if buffer:
            buffer += data
            if len(buffer) < self._wanted:
                return []  # byte-at-a-time input costs one append per call, not a rescan
            chunk = bytes(buffer)
            buffer.clear()
        else:
            chunk = data if type(data) is bytes else bytes(data)  # slices of bytes are bytes
        payloads: list[bytes] = []
        consumed = self._split(chunk, payloads)
        if consumed < len(chunk):
            buffer += memoryview(chunk)[consumed:]
        return payloads

    def _split(self, data: bytes, payloads: list[bytes]) -> int:
        """Append every complete payload in ``data``; return how many bytes they used.

        The loop runs once per frame, not per byte: lengths under 16 KiB (one or two varint
        bytes, every real event) are decoded inline, longer ones by :func:`_scan_varint`.
        """
        position = 0
        end = len(data)
        max_payload = self.max_payload
        while position < end:
            if data[position] != MAGIC:
                raise MalformedFrame(f"expected 0xbf at a frame start, got {data[position]:#04x}")
            start = position + 1
            if start + 1 < end and data[start + 1] < 0x80:  # one- and two-byte lengths inline
                first = data[start]
                if first < 0x80:
                    length, start = first, start + 1
                else:
                    length, start = (first & 0x7F) | (data[start + 1] << 7), start + 2
            else:
                length, start = scan_varint(data, start, end)
            if length > max_payload:
                raise FrameTooLarge(f"frame of {length} bytes exceeds the cap of {max_payload}")
            if start < 0:
                self._wanted = end - position + 1  # the header needs at least one more byte
                return position
            stop = start + length
            if stop > end:
                self._wanted = stop - position
                return position
            payloads.append(data[start:stop])
            position = stop
        return position


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

"""Counting whole messages in a received byte stream without parsing them (sans-I/O).

A receiver that must keep up with a few hundred thousand messages a second cannot parse
each one, so it only finds where messages end: ``</event>`` for CoT XML (``bytes.count``
runs in C), the ``0xbf`` + varint length header for TAK protocol v1 (one step per frame,
payloads skipped unread). Both counters carry state across reads, so an end marker or a
header split between two chunks is counted exactly once, when its message is complete.

The XML counter relies on the server writing ``</event>`` without inner whitespace, which
is what Rallypoint's serializer (and every forwarded bench message) produces.
"""

from rallypoint.errors import MalformedFrame

EVENT_END = b"</event>"

FRAME_MAGIC = 0xBF
MAX_VARINT_BYTES = 10
"""A protobuf varint carries at most 64 bits, seven per byte."""

STAMP_MARKER = b"rpbench:"
"""Precedes the send time (monotonic ns) the load generator writes into each message."""

STAMP_DIGITS = 20
"""The send time is written zero-padded to this width, so message lengths never change."""

FENCE_MARKER = b"rpbench-fence"
"""Marks the message each sender writes after a phase: once it arrives, the phase is in."""


class MarkerCounter:
    """Counts occurrences of a byte marker in a stream fed chunk by chunk.

    The marker must not overlap itself (no proper prefix equal to a suffix), as holds
    for ``</event>`` and :data:`FENCE_MARKER`, so ``bytes.count`` finds every occurrence.
    """

    __slots__ = ("_keep", "_tail", "marker")

    def __init__(self, marker: bytes) -> None:
        self.marker = marker
        self._keep = len(marker) - 1
        """Bytes kept from the previous chunk: a split marker has at most this many there."""
        self._tail = b""

    def feed(self, data: bytes) -> int:
        """Add one chunk; return how many markers it completes."""
        marker, keep, tail = self.marker, self._keep, self._tail
        count = data.count(marker)
        if tail:
            # Neither the tail nor data[:keep] can hold a whole marker, so any match in this
            # window straddles the boundary and was not counted on either side.
            count += (tail + data[:keep]).count(marker)
        self._tail = data[-keep:] if len(data) >= keep else (tail + data)[-keep:]
        return count


class FrameCounter:
    """Counts TAK protocol v1 stream frames (``0xbf``, varint length, payload)."""

    __slots__ = ("_length", "_shift", "_skip")

    def __init__(self) -> None:
        self._skip = 0
        """Payload bytes of the current frame still to come (0: none pending)."""
        self._length = 0
        self._shift = -1
        """-1 at a frame start; otherwise the bit position of the next length byte."""

    def feed(self, data: bytes) -> int:
        """Add one chunk; return how many frames it completes.

        Raises :class:`~rallypoint.errors.MalformedFrame` when a frame does not start
        with ``0xbf`` or its length varint is too long: the count cannot be trusted then.
        """
        end = len(data)
        position = self._skip
        if position > end:
            self._skip = position - end
            return 0
        count = 1 if position else 0
        length = self._length
        shift = self._shift
        while position < end:
            if shift < 0:
                if data[position] != FRAME_MAGIC:
                    raise MalformedFrame(f"expected 0xbf at a frame start, got {data[position]:#04x}")
                position += 1
                length = shift = 0
                continue
            byte = data[position]
            position += 1
            length |= (byte & 0x7F) << shift
            if byte & 0x80:
                shift += 7
                if shift >= 7 * MAX_VARINT_BYTES:
                    raise MalformedFrame(f"frame length varint longer than {MAX_VARINT_BYTES} bytes")
                continue
            shift = -1
            position += length
            if position <= end:
                count += 1
        self._skip = position - end
        self._length = length
        self._shift = shift
        return count


def last_stamp(data: bytes) -> int | None:
    """The send time in the last message of ``data`` whose stamp is whole, if any.

    Only one message per chunk is sampled: that keeps the cost per chunk to two
    ``rfind`` calls however many messages the chunk holds.
    """
    marker = data.rfind(STAMP_MARKER)
    if marker >= 0 and marker + len(STAMP_MARKER) + STAMP_DIGITS > len(data):
        marker = data.rfind(STAMP_MARKER, 0, marker)
    if marker < 0:
        return None
    start = marker + len(STAMP_MARKER)
    digits = data[start : start + STAMP_DIGITS]
    return int(digits) if digits.isdigit() else None

"""Incremental decoder for one streaming connection: CoT XML and TAK protocol v1 frames.

Some clients send protobuf frames without negotiating (pytak with ``TAK_PROTO=1``), and a
negotiating client switches mid-stream, so the format is detected at every message
boundary: ``0xbf`` starts a frame, ``<`` starts XML. Whitespace, byte-order marks and XML
declarations between messages are skipped; any other byte is garbage and ends the stream.

The decoder is sans-I/O: feed it whatever ``recv`` returned, get whole messages back. Every
buffer is capped, and a partial message never costs more than one scan of its bytes (no
quadratic rescanning when a client trickles one byte at a time).

An XML message ends at the first ``</event>`` (or ``</auth>``) that is markup: one inside a
CDATA section, a comment or a processing instruction is text, and skipped, so a message
cannot be cut into a second one by what it quotes. Work per call is bounded in messages as
well as bytes: :meth:`StreamDecoder.feed` returns at most ``max_frames`` messages and keeps
the rest for the next call (:attr:`StreamDecoder.backlog`).
"""

import re
from enum import Enum
from typing import NamedTuple

from rallypoint.cot import hotpath
from rallypoint.cot.framing import MAGIC as FRAME_MAGIC
from rallypoint.cot.framing import scan_varint
from rallypoint.errors import EmptyFrame, FrameTooLarge, MalformedFrame, ProtocolError

MAX_DECLARATION_BYTES = 256
"""An ``<?xml ...?>`` declaration is under 60 bytes in practice."""

DEFAULT_MAX_FRAMES = 512
"""Messages returned by one :meth:`StreamDecoder.feed`: a read of tiny frames cannot hold the
loop for tens of thousands of messages (a real client sends a few a second)."""

_WHITESPACE = re.compile(rb"[ \t\r\n]+|\xef\xbb\xbf")
_XML_START = re.compile(rb"<(event|auth)[\s>/]")


class FrameKind(Enum):
    """What a decoded message is."""

    XML = "xml"
    PROTOBUF = "protobuf"
    AUTH = "auth"
    """A ``<auth>`` credentials message (sent first by clients configured with a password)."""


class Frame(NamedTuple):
    """One complete message from the stream: an XML event, a protobuf payload or an auth."""

    kind: FrameKind
    payload: bytes


class StreamDecoder:
    """Split a byte stream into :class:`Frame` values, whatever the read boundaries."""

    def __init__(
        self, max_xml_bytes: int, max_protobuf_bytes: int, max_frames: int = DEFAULT_MAX_FRAMES
    ) -> None:
        self.max_xml_bytes = max_xml_bytes
        self.max_protobuf_bytes = max_protobuf_bytes
        self.max_frames = max_frames
        self._buffer = bytearray()
        self._resume_at = 0
        """Where the search for the end of a pending XML message resumes."""
        self._closer: bytes | None = None
        """Inside a CDATA section, comment or processing instruction: the bytes that end it."""
        self.backlog = False
        """The last :meth:`feed` stopped at :attr:`max_frames`: call it again (with ``b""``)."""
        self.error: ProtocolError | None = None
        """Set once the stream broke the protocol; nothing more will be decoded."""

    @property
    def pending_bytes(self) -> int:
        """Bytes of an incomplete message held in the buffer."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Frame]:
        """Add bytes read from the connection and return the messages they complete.

        When the bytes break the protocol, the messages before the break are still
        returned and :attr:`error` is set; the stream is then dead, and feeding it again
        raises that error.
        """
        if self.error is not None:
            raise self.error
        buffer = self._buffer
        buffer += data
        frames: list[Frame] = []
        position = 0
        try:
            position = self._split(buffer, frames)
        except ProtocolError as exc:
            self.error = exc
        if position:
            del buffer[:position]
            self._resume_at = max(0, self._resume_at - position)  # the pending message's scan state
        return frames

    def _split(self, buffer: bytearray, frames: list[Frame]) -> int:
        """Append every complete message to ``frames``; return the offset after the last one."""
        position = 0
        size = len(buffer)
        self.backlog = False
        while position < size:
            if len(frames) >= self.max_frames:
                self.backlog = True
                break
            first = buffer[position]
            if first == FRAME_MAGIC:
                span = self._protobuf_span(buffer, position)
                if span is None:
                    break
                frames.append(Frame(FrameKind.PROTOBUF, bytes(buffer[span[0] : span[1]])))
                position = span[1]
            elif first == 0x3C:  # "<"
                end = self._xml_end(buffer, position)
                if end < 0:
                    break
                if not buffer.startswith(b"<?", position):
                    frames.append(self._xml_frame(buffer, position, end))
                position = end
            else:
                skipped = _WHITESPACE.match(buffer, position)
                if skipped is None:
                    raise MalformedFrame(f"unexpected byte 0x{first:02x} between messages")
                position = skipped.end()
        return position

    def _protobuf_span(self, buffer: bytearray, start: int) -> tuple[int, int] | None:
        """(payload start, payload end) of the frame at ``start``, or None while incomplete."""
        length, index = scan_varint(buffer, start + 1, len(buffer))
        if length > self.max_protobuf_bytes:  # a partial varint's value is already a lower bound
            raise FrameTooLarge(f"frame of {length} bytes exceeds the cap of {self.max_protobuf_bytes}")
        if index < 0:
            return None
        if length == 0:
            raise EmptyFrame("TAK protocol frame of length zero")
        end = index + length
        return None if end > len(buffer) else (index, end)

    def _xml_end(self, buffer: bytearray, start: int) -> int:
        """End offset of the declaration or message at ``start``, or -1 while incomplete."""
        if buffer.startswith(b"<?", start):
            end = buffer.find(b"?>", start, start + MAX_DECLARATION_BYTES)
            if end >= 0:
                return end + 2
            if len(buffer) - start >= MAX_DECLARATION_BYTES:
                raise MalformedFrame("XML declaration is not closed")
            return -1
        head = _XML_START.match(buffer, start)
        if head is None:
            tail = bytes(buffer[start : start + len(b"<event")])
            if len(buffer) - start <= len(b"<event") and (
                b"<event".startswith(tail) or b"<auth".startswith(tail)
            ):
                return -1  # may still become "<event " or "<auth>"
            raise MalformedFrame("XML message does not start with <event> or <auth>")
        name = b"</event" if head.group(1) == b"event" else b"</auth"
        end, closer, resume = hotpath.xml_end(buffer, max(start, self._resume_at), self._closer or b"", name)
        if end < 0:
            self._closer, self._resume_at = closer or None, resume
            return self._incomplete(buffer, start)
        if end - start > self.max_xml_bytes:
            raise FrameTooLarge(f"XML message exceeds the cap of {self.max_xml_bytes} bytes")
        self._closer, self._resume_at = None, 0
        return end

    def _incomplete(self, buffer: bytearray, start: int) -> int:
        """-1 (wait for more) for a pending message, unless it already exceeds the cap."""
        if len(buffer) - start > self.max_xml_bytes:
            raise FrameTooLarge(f"XML message exceeds the cap of {self.max_xml_bytes} bytes")
        return -1

    @staticmethod
    def _xml_frame(buffer: bytearray, start: int, end: int) -> Frame:
        kind = FrameKind.XML if buffer.startswith(b"<event", start) else FrameKind.AUTH
        return Frame(kind, bytes(buffer[start:end]))

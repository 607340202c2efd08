"""Incremental decoder for one streaming connection: CoT XML and TAK protocol v1 frames.

Some clients send protobuf frames without negotiating (pytak with ``TAK_PROTO=1``), and a
negotiating client switches mid-stream, so the format is detected at every message
boundary: ``0xbf`` starts a frame, ``<`` starts XML. Whitespace, byte-order marks and XML
declarations between messages are skipped; any other byte is garbage and ends the stream.

The decoder is sans-I/O: feed it whatever ``recv`` returned, get whole messages back. Every
buffer is capped, and a partial message never costs more than one scan of its bytes (no
quadratic rescanning when a client trickles one byte at a time).
"""

import re
from enum import Enum
from typing import NamedTuple

from rallypoint.cot.framing import MAGIC as FRAME_MAGIC
from rallypoint.cot.framing import scan_varint
from rallypoint.errors import FrameTooLarge, MalformedFrame, ProtocolError

MAX_DECLARATION_BYTES = 256
"""An ``<?xml ...?>`` declaration is under 60 bytes in practice."""

_EVENT_END = re.compile(rb"</event\s*>")
_EVENT_END_LOOKBEHIND = 16
"""Bytes to re-scan when a search resumes, so a split ``</event  >`` is still found."""
_WHITESPACE = re.compile(rb"[ \t\r\n]+|\xef\xbb\xbf")
_XML_START = re.compile(rb"<(event|auth)[\s>/]")
_AUTH_END = re.compile(rb"</auth\s*>")


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

    def __init__(self, max_xml_bytes: int, max_protobuf_bytes: int) -> None:
        self.max_xml_bytes = max_xml_bytes
        self.max_protobuf_bytes = max_protobuf_bytes
        self._buffer = bytearray()
        self._resume_at = 0
        """Where the search for the end of a pending XML message resumes."""
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
            self._resume_at = 0
        return frames

    def _split(self, buffer: bytearray, frames: list[Frame]) -> int:
        """Append every complete message to ``frames``; return the offset after the last one."""
        position = 0
        size = len(buffer)
        while position < size:
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
        if index < 0:
            return None
        if length > self.max_protobuf_bytes:
            raise FrameTooLarge(f"frame of {length} bytes exceeds the cap of {self.max_protobuf_bytes}")
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
        pattern = _EVENT_END if head.group(1) == b"event" else _AUTH_END
        match = pattern.search(buffer, max(start, self._resume_at - _EVENT_END_LOOKBEHIND))
        if match is None:
            if len(buffer) - start > self.max_xml_bytes:
                raise FrameTooLarge(f"XML message exceeds the cap of {self.max_xml_bytes} bytes")
            self._resume_at = len(buffer)
            return -1
        if match.end() - start > self.max_xml_bytes:
            raise FrameTooLarge(f"XML message exceeds the cap of {self.max_xml_bytes} bytes")
        return match.end()

    @staticmethod
    def _xml_frame(buffer: bytearray, start: int, end: int) -> Frame:
        kind = FrameKind.XML if buffer.startswith(b"<event", start) else FrameKind.AUTH
        return Frame(kind, bytes(buffer[start:end]))

"""Split a byte stream into text lines, with a cap on how long a line may grow.

SBS-1, raw Mode S, NMEA and APRS-IS are all line protocols. A peer that never sends a
newline must not make us buffer without end: a line past :data:`MAX_LINE_BYTES` is
dropped whole (counted as ``line_too_long``) and reading resumes after its newline.
"""

MAX_LINE_BYTES = 4096
"""APRS-IS lines are under 512 bytes, NMEA sentences under 100, SBS-1 lines under 200."""


class LineSplitter:
    """Bytes in, complete lines (without their line ending, decoded as text) out."""

    def __init__(self, max_line_bytes: int = MAX_LINE_BYTES) -> None:
        self.max_line_bytes = max_line_bytes
        self._buffer = bytearray()
        self._discarding = False
        """Inside an over-long line: drop bytes until its newline."""
        self.too_long = 0
        """Lines dropped for exceeding the cap since this splitter was made."""

    def feed(self, data: bytes) -> list[str]:
        """Add bytes read from the peer; return the lines they complete."""
        lines: list[str] = []
        start = 0
        while True:
            end = data.find(b"\n", start)
            if end < 0:
                self._keep(data[start:])
                return lines
            if self._discarding:
                self._discarding = False
            elif len(self._buffer) + end - start <= self.max_line_bytes:
                self._buffer += data[start:end]
                lines.append(self._buffer.decode("utf-8", "replace").rstrip("\r"))
            else:
                self.too_long += 1
            self._buffer.clear()
            start = end + 1

    def _keep(self, tail: bytes) -> None:
        if self._discarding:
            return
        if len(self._buffer) + len(tail) > self.max_line_bytes:
            self._buffer.clear()
            self._discarding = True
            self.too_long += 1
            return
        self._buffer += tail

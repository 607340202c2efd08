"""The search for the end of one streamed XML message, in pure Python (the native twin is in
``_native.c``; :mod:`rallypoint.cot.hotpath` picks one).

A message ends at the first ``</event>`` (or ``</auth>``) that is markup: inside a CDATA
section, a comment or a processing instruction it is text, and the search skips to what closes
that text. The search can stop at the end of the buffer and resume when more bytes arrive; it
then says where to resume and what text it is inside, so no byte is scanned twice but the few
that may hold a token split across two reads.
"""

import re

MAX_END_TAG_SPACE = 32
"""Whitespace accepted inside ``</event  >``; legal XML allows more, no client writes any."""

TEXT_OPENERS = {b"<![CDATA[": b"]]>", b"<!--": b"-->", b"<?": b"?>"}
"""Markup whose content is text, with what closes it: a ``</event>`` inside is not an end."""

_PATTERNS = {
    name: re.compile(rb"<!\[CDATA\[|<!--|<\?|%s[ \t\r\n]{0,%d}>" % (name, MAX_END_TAG_SPACE))
    for name in (b"</event", b"</auth")
}


_EVENT_TAG = re.compile(rb"</?event", re.IGNORECASE)
"""What a stream splitter looks for; any case, as the laxest splitter would."""


def event_tags(data: bytes | bytearray) -> int:
    """How many times ``<event`` or ``</event`` occurs in ``data``, in any case."""
    return len(_EVENT_TAG.findall(data))


def lookbehind(name: bytes) -> int:
    """Bytes to re-scan when a search resumes, so a token split across reads is still found."""
    return len(name) + MAX_END_TAG_SPACE + 1


def xml_end(buffer: bytes | bytearray, position: int, closer: bytes, name: bytes) -> tuple[int, bytes, int]:
    """``(end, closer, resume)``: ``end`` is the offset after the first end tag ``name`` (``b"</event"``
    or ``b"</auth"``) from ``position`` that is markup, or -1 when the buffer ends first; then
    ``closer`` (``b""`` outside text markup) and ``resume`` say where the next search goes on."""
    pattern = _PATTERNS[name]
    while True:
        if closer:
            found = buffer.find(closer, position)
            if found < 0:
                return -1, closer, max(position, len(buffer) - len(closer) + 1)
            position, closer = found + len(closer), b""
            continue
        match = pattern.search(buffer, position)
        if match is None:
            return -1, b"", max(position, len(buffer) - lookbehind(name))
        closer = TEXT_OPENERS.get(match.group(), b"")
        if not closer:
            return match.end(), b"", 0
        position = match.end()

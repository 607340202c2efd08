"""A small keep-alive HTTP/1.1 GET for polling ``http://`` feeds (readsb's ``aircraft.json``).

The end-to-end profile of issue 19 put the HTTP client first among the server's costs: httpx
spends about half a millisecond of CPU per request (its pool, its auth and redirect layers,
async-library detection), and a receiver polled five times a second costs that fifteen times
a second for three of them. A poll needs none of that: one connection kept open, one request
line, a status, a ``Content-Length`` or chunked body. :class:`ResponseParser` reads that
sans-I/O; :class:`PlainHttpGetter` is the asyncio glue. ``https://`` feeds keep httpx.
"""

import asyncio
from urllib.parse import urlsplit

from rallypoint.errors import FeedDown

MAX_HEAD_BYTES = 64 * 1024
READ_BYTES = 64 * 1024


class BadResponse(ValueError):
    """The bytes are not an HTTP/1.x response this client reads."""


class ResponseParser:
    """One HTTP/1.x response: feed bytes in, :attr:`done` once status and body are complete."""

    def __init__(self, max_body: int) -> None:
        self.max_body = max_body
        self.status = 0
        self.keep_alive = True
        self.body = bytearray()
        self.done = False
        self._buffer = bytearray()
        self._head = True
        self._length: int | None = None
        self._chunked = False
        self._chunk_left = -1
        """Bytes left of the current chunk; -1 before its size line, -2 in the trailers."""

    def feed(self, data: bytes) -> None:
        """Take the next bytes from the peer (BadResponse if they cannot be a response)."""
        self._buffer += data
        if self._head:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buffer) > MAX_HEAD_BYTES:
                    raise BadResponse("response head too long")
                return
            self._read_head(bytes(self._buffer[:end]).decode("latin-1"))
            del self._buffer[: end + 4]
        if self._chunked:
            self._read_chunks()
        elif self._length is not None:
            self.body += self._buffer
            self._buffer.clear()
            if len(self.body) >= self._length:
                del self.body[self._length :]
                self.done = True
        else:
            self.body += self._buffer
            self._buffer.clear()
        if len(self.body) > self.max_body:
            raise BadResponse(f"body over {self.max_body} bytes")

    def closed(self) -> None:
        """The peer closed: a body without length ends here; anything else was cut short."""
        if self._head or self._chunked or self._length is not None:
            raise BadResponse("connection closed before the response was complete")
        self.keep_alive = False
        self.done = True

    def _read_head(self, head: str) -> None:
        status_line, *lines = head.split("\r\n")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise BadResponse(f"not an HTTP/1.x status line: {status_line[:80]!r}")
        self.status = int(parts[1])
        headers: dict[str, str] = {}
        for line in lines:
            name, colon, value = line.partition(":")
            if colon:
                headers[name.strip().lower()] = value.strip().lower()
        connection = headers.get("connection", "")
        self.keep_alive = "close" not in connection and (parts[0] != "HTTP/1.0" or "keep-alive" in connection)
        self._chunked = "chunked" in headers.get("transfer-encoding", "")
        if not self._chunked and "content-length" in headers:
            if not headers["content-length"].isdigit():
                raise BadResponse("bad Content-Length")
            self._length = int(headers["content-length"])
        self._head = False
        if self._length == 0:
            self.done = True

    def _read_chunks(self) -> None:
        buffer = self._buffer
        while not self.done:
            if self._chunk_left >= 0:
                take = min(self._chunk_left, len(buffer))
                self.body += buffer[:take]
                del buffer[:take]
                self._chunk_left -= take
                if self._chunk_left or len(buffer) < 2:
                    return
                if buffer[:2] != b"\r\n":
                    raise BadResponse("chunk not followed by CRLF")
                del buffer[:2]
                self._chunk_left = -1
                continue
            end = buffer.find(b"\r\n")
            if end < 0:
                return
            line = bytes(buffer[:end])
            del buffer[: end + 2]
            if self._chunk_left == -2:  # trailers, up to the empty line
                self.done = not line
                continue
            size = line.split(b";", 1)[0].strip()
            try:
                self._chunk_left = int(size, 16)
            except ValueError as exc:
                raise BadResponse("bad chunk size") from exc
            if self._chunk_left == 0:
                self._chunk_left = -2


class PlainHttpGetter:
    """GET one ``http://`` URL again and again over one kept-alive connection."""

    def __init__(self, url: str, timeout_s: float, max_body: int) -> None:
        parts = urlsplit(url)
        self.url = url
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        path = parts.path or "/"
        target = f"{path}?{parts.query}" if parts.query else path
        host = parts.netloc.rpartition("@")[2]
        self.request = (
            f"GET {target} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\n"
            "User-Agent: rallypoint\r\n\r\n"
        ).encode("latin-1")
        self.timeout_s = timeout_s
        self.max_body = max_body
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def get(self) -> bytes:
        """The body of a 200 answer (FeedDown on any other status, a failure or a timeout)."""
        try:
            async with asyncio.timeout(self.timeout_s):
                reused = self._writer is not None
                try:
                    parser = await self._exchange()
                except (OSError, BadResponse):
                    if not reused:
                        raise
                    self.close()  # the server closed the idle connection: once more on a new one
                    parser = await self._exchange()
        except TimeoutError as exc:
            self.close()
            raise FeedDown(f"GET {self.url}: timed out", reason="http") from exc
        except (OSError, BadResponse) as exc:
            self.close()
            raise FeedDown(f"GET {self.url}: {exc}", reason="http") from exc
        if not parser.keep_alive:
            self.close()
        if parser.status != 200:
            raise FeedDown(f"GET {self.url}: {parser.status}", reason=f"http_{parser.status}")
        return bytes(parser.body)

    async def _exchange(self) -> ResponseParser:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None
        self._writer.write(self.request)
        parser = ResponseParser(self.max_body)
        while not parser.done:
            chunk = await self._reader.read(READ_BYTES)
            if chunk:
                parser.feed(chunk)
            else:
                parser.closed()
        return parser

    def close(self) -> None:
        """Drop the connection (the next GET opens a new one)."""
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None

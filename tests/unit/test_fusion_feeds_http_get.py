"""The poll client's response parser: lengths, chunks, split reads, keep-alive and refusals."""

import pytest

from rallypoint.fusion.feeds.http_get import BadResponse, ResponseParser

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"


def parse(*pieces: bytes, max_body: int = 1000) -> ResponseParser:
    parser = ResponseParser(max_body)
    for piece in pieces:
        parser.feed(piece)
    return parser


def test_content_length_body_in_pieces() -> None:
    data = HEAD + b"Content-Length: 11\r\n\r\n" + b'{"now": 1}\n'
    parser = parse(*(data[i : i + 5] for i in range(0, len(data), 5)))
    assert (parser.done, parser.status, parser.keep_alive, bytes(parser.body)) == (
        True,
        200,
        True,
        b'{"now": 1}\n',
    )


def test_incomplete_until_the_last_byte() -> None:
    parser = parse(HEAD + b"Content-Length: 4\r\n\r\nabc")
    assert not parser.done
    parser.feed(b"d")
    assert bytes(parser.body) == b"abcd"


def test_chunked_body_with_extension_and_trailer() -> None:
    data = HEAD + b"Transfer-Encoding: chunked\r\n\r\n4;x=1\r\nWiki\r\n5\r\npedia\r\n0\r\nX-T: 1\r\n\r\n"
    split = parse(*(data[i : i + 3] for i in range(0, len(data), 3)))
    assert (split.done, bytes(split.body)) == (True, b"Wikipedia")
    assert bytes(parse(data).body) == b"Wikipedia"


def test_connection_close_and_http_1_0() -> None:
    assert not parse(HEAD + b"Connection: close\r\nContent-Length: 0\r\n\r\n").keep_alive
    old = parse(b"HTTP/1.0 503 Busy\r\n\r\nbusy")
    assert (old.status, old.done, old.keep_alive) == (503, False, False)
    old.closed()
    assert (old.done, bytes(old.body)) == (True, b"busy")


def test_refusals() -> None:
    with pytest.raises(BadResponse):
        parse(b"SSH-2.0-OpenSSH\r\n\r\n")
    with pytest.raises(BadResponse):
        parse(HEAD + b"Content-Length: 5000\r\n\r\n" + b"x" * 1001)
    with pytest.raises(BadResponse):
        parse(HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n")
    cut = parse(HEAD + b"Content-Length: 10\r\n\r\nabc")
    with pytest.raises(BadResponse):
        cut.closed()

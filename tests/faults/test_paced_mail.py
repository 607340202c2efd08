"""A returning device with a small write queue takes its kept mail at its own pace.

Kept mail is handed over a page at a time, each page only once the connection's write queue
has drained (docs/delivery.md, Order). Here the write queue holds a tenth of a page, the
device's receive buffer is small, so the server's socket pauses while each page is written,
and the device returns to more than three pages of mail while a live chat is sent to it
during the handover: it gets every kept chat once, in order, then the live one, and it is not
dropped as too slow.
"""

import asyncio
import contextlib
import re
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from rallypoint.router.mailbox import MAIL_PAGE
from rallypoint.server.server import Server
from tests.interop.clients import HOST, chat_xml, pli_xml
from tests.settings import listening
from tests.waiting import EVENT_TIMEOUT_S, eventually

WRITE_QUEUE = MAIL_PAGE // 10
"""The device's write queue: far smaller than one page of kept mail."""

KEPT = 3 * MAIL_PAGE + 500
"""Chats kept for the device: more than three pages."""

CHAT_TEXT = 2000
"""Characters of each kept chat: the mail (about 8 MB) is more than the kernel's send buffer
(autotuned to megabytes on loopback) takes, so the server's socket does pause."""

RECEIVE_BUFFER = 4096
"""The returning device's socket receive buffer: small, so the server's writes back up."""

READ_SIZE = 4096

_UID = re.compile(rb'<event [^>]*uid="(GeoChat[^"]+)"')


@pytest.fixture
async def small_queue(tmp_path: Path) -> AsyncIterator[tuple[Server, int]]:
    settings = listening(tmp_path, outbox_max_messages=WRITE_QUEUE)
    server = Server(settings)
    ports = await server.start()
    try:
        yield server, ports.tcp
    finally:
        await server.stop()


async def _drain(reader: asyncio.StreamReader, into: bytearray) -> None:
    with contextlib.suppress(ConnectionError):
        while chunk := await reader.read(65536):
            into += chunk


async def _small_buffer_connection(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (HOST, port))
    return await asyncio.open_connection(sock=sock)


def _uid(chat: bytes) -> str:
    match = _UID.search(chat)
    assert match is not None
    return match.group(1).decode()


async def test_kept_mail_larger_than_the_write_queue_arrives_once_in_order_without_a_drop(
    small_queue: tuple[Server, int],
) -> None:
    server, port = small_queue
    counters, registry = server.context.counters, server.context.router.registry
    _team_reader, team = await asyncio.open_connection(HOST, port)
    team.write(pli_xml("TEAM", "Rescue-3"))
    await team.drain()
    await eventually(lambda: registry.by_uid("TEAM") is not None, what="team bound")
    team.close()
    await eventually(lambda: registry.by_uid("TEAM") is None, what="team gone")

    post_reader, post = await asyncio.open_connection(HOST, port)
    post_seen = bytearray()
    post_task = asyncio.create_task(_drain(post_reader, post_seen))
    post.write(pli_xml("POST", "Command"))
    await eventually(lambda: registry.by_uid("POST") is not None, what="post bound")
    chats = [
        chat_xml("POST", "Command", f"kept {n} " + "x" * CHAT_TEXT, to_callsign="Rescue-3")
        for n in range(KEPT)
    ]
    for start in range(0, KEPT, 100):
        post.write(b"".join(chats[start : start + 100]))
        await post.drain()
    await eventually(lambda: counters.get("mail_kept") == KEPT, what="every chat kept")

    back_reader, back = await _small_buffer_connection(port)
    back.write(pli_xml("TEAM", "Rescue-3"))
    await back.drain()
    await eventually(lambda: registry.by_uid("TEAM") is not None, what="team back")
    live = chat_xml("POST", "Command", "live during the handover", to_callsign="Rescue-3")
    post.write(live)
    await post.drain()
    # The device reads nothing until the server's socket has backed up (the mail is more than
    # the kernel's buffers hold), so the pacing is exercised however fast this machine reads.
    await eventually(lambda: counters.get("write_paused") > 0, what="the server's writes paused")
    received = bytearray()
    async with asyncio.timeout(2 * EVENT_TIMEOUT_S):
        while b"live during the handover" not in received:
            chunk = await back_reader.read(READ_SIZE)
            assert chunk, "the server closed the returning team's connection"
            received += chunk

    assert [uid.decode() for uid in _UID.findall(bytes(received))] == [*map(_uid, chats), _uid(live)]
    assert counters.get("outbox{result=overflow}") == 0
    assert registry.by_uid("TEAM") is not None  # still connected: never dropped as too slow
    await eventually(lambda: counters.get("mail_delivered") == KEPT, what="kept mail acknowledged")
    back.close()
    post.close()
    post_task.cancel()

"""A recipient that stops reading is dropped as too slow; what was directed to it is not lost.

The row of the delivery issue: "slow reader dropped for a full write queue: 82/82 directed
chats queued for it lost". Here the team stops reading, the post keeps writing to it until
the server drops it for a full write queue (a bounded loop), and the team comes back. What
it read on its first connection (its TCP stack had acknowledged it) plus what it gets on its
return, with repeats of a uid it already has dropped (as a TAK client does), is every chat
the post sent, in order; a bystander's traffic flows throughout.
"""

import asyncio
import contextlib
import re

from rallypoint.server.server import Server
from tests.interop.clients import HOST, chat_xml, pli_xml
from tests.waiting import EVENT_TIMEOUT_S, eventually

MAX_CHATS = 50_000
"""The post's chats at most: far more than the team's buffers and write queue can hold."""

_UID = re.compile(rb'<event [^>]*uid="(GeoChat[^"]+)"')


async def _drain(reader: asyncio.StreamReader, into: bytearray) -> None:
    """Read until the connection ends (EOF or reset), keeping every byte."""
    with contextlib.suppress(ConnectionError):
        while chunk := await reader.read(65536):
            into += chunk


async def test_a_slow_reader_dropped_for_a_full_queue_gets_every_chat_once_in_order(
    running: tuple[Server, int],
) -> None:
    server, port = running
    counters = server.context.counters
    team_reader, team = await asyncio.open_connection(HOST, port)
    post_reader, post = await asyncio.open_connection(HOST, port)
    other_reader, other = await asyncio.open_connection(HOST, port)
    post_seen, other_seen = bytearray(), bytearray()
    readers = [
        asyncio.create_task(_drain(post_reader, post_seen)),
        asyncio.create_task(_drain(other_reader, other_seen)),
    ]
    team.write(pli_xml("TEAM", "Rescue-3"))
    other.write(pli_xml("OTHER", "Bystander"))
    post.write(pli_xml("POST", "Command"))
    await asyncio.gather(team.drain(), other.drain(), post.drain())
    await eventually(lambda: server.context.router.registry.by_uid("TEAM") is not None, what="team bound")
    await eventually(lambda: server.context.router.registry.by_uid("POST") is not None, what="post bound")

    sent: list[str] = []
    for number in range(MAX_CHATS):  # the team reads nothing meanwhile
        chat = chat_xml("POST", "Command", f"chat {number} " + "x" * 400, to_callsign="Rescue-3")
        match = _UID.search(chat)
        assert match is not None
        sent.append(match.group(1).decode())
        post.write(chat)
        if number % 100 == 99:
            await post.drain()
            if counters.get("outbox{result=overflow}"):
                break
    assert counters.get("outbox{result=overflow}") == 1, "the team was never dropped as too slow"
    await post.drain()

    first = bytearray()
    await asyncio.wait_for(_drain(team_reader, first), EVENT_TIMEOUT_S)  # what reached it before the drop
    team.close()
    await server.context.mailbox.drain()
    await eventually(lambda: server.context.mailbox.queued() == 0, what="returned mail committed")
    await server.context.mailbox.drain()

    back_reader, back = await asyncio.open_connection(HOST, port)
    back.write(pli_xml("TEAM", "Rescue-3"))
    await back.drain()
    marker = chat_xml("POST", "Command", "after the mail", to_callsign="Rescue-3")
    await eventually(lambda: server.context.router.registry.by_uid("TEAM") is not None, what="team back")
    post.write(marker)
    await post.drain()
    second = bytearray()
    async with asyncio.timeout(EVENT_TIMEOUT_S):
        while b"after the mail" not in second:
            chunk = await back_reader.read(65536)
            assert chunk, "the server closed the returning team's connection"
            second += chunk
    back.close()

    received = [uid.decode() for uid in _UID.findall(bytes(first) + bytes(second))]
    once = list(dict.fromkeys(received))
    marker_uid = _UID.search(marker)
    assert marker_uid is not None
    assert once == [*sent, marker_uid.group(1).decode()]  # every chat, in order, then the live one
    assert counters.get("mail_returned") > 0

    other.write(
        chat_xml("POST", "Command", "still flowing", to_callsign="Bystander")
    )  # from other, to itself: skip
    post.write(chat_xml("POST", "Command", "to the bystander", to_callsign="Bystander"))
    await post.drain()
    await eventually(lambda: b"to the bystander" in other_seen, what="the bystander's chat")
    for task in readers:
        task.cancel()
    for writer in (post, other):
        writer.close()

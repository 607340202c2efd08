"""A device on a throttled link that is reset between bursts: every chat once, in order.

The row of the delivery issue: "link throttled to 2 KB/s and reset every 10 s: 16/200".
The team is behind the fault proxy at a few KB/s; the post sends a burst, the team reads
it through the crawl, the link is reset, a second burst is sent while the team is away, and
the team comes back through the same thin link. Repeats of a uid it already has (possible
when the reset came before the server saw the last acknowledgement) are dropped, as a TAK
client does; what remains is every chat, in order. A bystander on a good link sees its own
traffic throughout.
"""

import asyncio
import contextlib
import re

from rallypoint.bench.faultproxy import FaultProxy
from rallypoint.server.server import Server
from tests.interop.clients import HOST, chat_xml, pli_xml
from tests.waiting import EVENT_TIMEOUT_S, eventually

BURST = 20
THROTTLE_BYTES_PER_S = 8 * 1024

_UID = re.compile(rb'<event [^>]*uid="(GeoChat[^"]+)"')


def _chat(text: str, to: str) -> tuple[bytes, str]:
    chat = chat_xml("POST", "Command", text + " " + "x" * 300, to_callsign=to)
    match = _UID.search(chat)
    assert match is not None
    return chat, match.group(1).decode()


async def _read_until(reader: asyncio.StreamReader, into: bytearray, marker: bytes) -> None:
    async with asyncio.timeout(EVENT_TIMEOUT_S):
        while marker not in into:
            chunk = await reader.read(65536)
            assert chunk, "the connection closed"
            into += chunk


async def test_a_throttled_link_reset_between_bursts_delivers_every_chat_once_in_order(
    running: tuple[Server, int],
) -> None:
    server, port = running
    registry = server.context.router.registry
    proxy = FaultProxy(HOST, port)
    proxy_port = await proxy.start()
    proxy.throttle(THROTTLE_BYTES_PER_S)
    try:
        post_reader, post = await asyncio.open_connection(HOST, port)
        other_reader, other = await asyncio.open_connection(HOST, port)
        team_reader, team = await asyncio.open_connection(HOST, proxy_port)
        drains = [asyncio.create_task(_discard(post_reader))]
        for writer, uid, callsign in ((post, "POST", "Command"), (other, "OTHER", "Bystander")):
            writer.write(pli_xml(uid, callsign))
        team.write(pli_xml("TEAM", "Rescue-3"))
        await eventually(lambda: all(registry.by_uid(u) for u in ("POST", "OTHER", "TEAM")), what="all bound")

        sent: list[str] = []
        for number in range(BURST):
            chat, uid = _chat(f"first {number}", "Rescue-3")
            post.write(chat)
            sent.append(uid)
        first = bytearray()
        await _read_until(team_reader, first, f"first {BURST - 1} ".encode())  # through the crawl
        other_seen = bytearray()
        post.write(_chat("to the bystander", "Bystander")[0])
        await _read_until(other_reader, other_seen, b"to the bystander")

        proxy.reset()
        await eventually(lambda: registry.by_uid("TEAM") is None, what="the reset seen by the server")
        for number in range(BURST):
            chat, uid = _chat(f"second {number}", "Rescue-3")
            post.write(chat)
            sent.append(uid)
        await post.drain()
        await eventually(
            lambda: server.context.router.counters.get("mail_kept") >= BURST, what="the second burst kept"
        )

        back_reader, back = await asyncio.open_connection(HOST, proxy_port)
        back.write(pli_xml("TEAM", "Rescue-3"))
        await eventually(lambda: registry.by_uid("TEAM") is not None, what="the team back")
        marker, marker_uid = _chat("after the mail", "Rescue-3")
        post.write(marker)
        second = bytearray()
        await _read_until(back_reader, second, b"after the mail")

        received = [uid.decode() for uid in _UID.findall(bytes(first) + bytes(second))]
        assert list(dict.fromkeys(received)) == [*sent, marker_uid]
        for task in drains:
            task.cancel()
        for writer in (post, other, team, back):
            writer.close()
    finally:
        await proxy.close()


async def _discard(reader: asyncio.StreamReader) -> None:
    """Keep the post's socket read (its pending answers) so it never backs up."""
    with contextlib.suppress(ConnectionError):
        while await reader.read(65536):
            pass

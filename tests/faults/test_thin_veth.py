"""A device on a real 2 KB/s link whose connection is reset again and again: every chat once, in order.

The row of the delivery issue: "link throttled to 2 KB/s and reset every 10 s: 16/200". The
team is in its own network namespace behind a token bucket (``tbf``) on the server-to-device
direction, so the server's send queue backs up as on a thin radio link (no middlebox
acknowledges for the device, unlike the user-space proxy). In each round the post sends a
burst and the team resets its connection as soon as one chat of that burst has reached it,
mid-stream, with most of the burst still in flight; then it reconnects. After the last
round it reads until a final marker. Repeats of a uid it already has (bytes its stack
received but whose acknowledgement the server had not read when the reset came) are
dropped, as a TAK client does; what remains is every chat, in order. A bystander on the
host is served throughout.
"""

import asyncio
from pathlib import Path

from rallypoint.server.server import Server
from tests.faults.conftest import fault_settings
from tests.faults.netns import Namespace
from tests.faults.test_blackhole import chat, chats_in, read_until
from tests.interop.clients import pli_xml
from tests.waiting import eventually

THROTTLE_BYTES_PER_S = 2 * 1024
ROUNDS = 3
BURST = 6


async def test_a_throttled_link_reset_mid_stream_delivers_every_chat_once_in_order(
    tmp_path: Path, namespace: Namespace
) -> None:
    server = Server(fault_settings(tmp_path, host=namespace.host_address))
    port = (await server.start()).tcp
    registry = server.context.router.registry
    namespace.throttle(THROTTLE_BYTES_PER_S)
    try:
        host = namespace.host_address
        post_reader, post = await asyncio.open_connection(host, port)
        other_reader, other = await asyncio.open_connection(host, port)
        post.write(pli_xml("POST", "Command"))
        other.write(pli_xml("OTHER", "Bystander"))
        post_seen = asyncio.create_task(post_reader.read(1 << 20))  # the post's answers, never read back
        received: list[bytearray] = []
        sent: list[str] = []
        for number in range(ROUNDS):
            team_reader, team = await namespace.connect(port)
            team.write(pli_xml("TEAM", "Rescue-3"))
            await eventually(lambda: registry.by_uid("TEAM") is not None, what=f"the team on link {number}")
            for index in range(BURST):
                xml, uid = chat(f"round {number} chat {index}", "Rescue-3")
                post.write(xml)
                sent.append(uid)
            seen = bytearray()
            received.append(seen)
            await read_until(team_reader, seen, f"round {number} chat ".encode())
            team.transport.abort()  # a reset with most of the burst in flight
            await eventually(lambda: registry.by_uid("TEAM") is None, what=f"reset {number} seen")
        other_seen = bytearray()
        post.write(chat("to the bystander", "Bystander")[0])
        await read_until(other_reader, other_seen, b"to the bystander")

        back_reader, back = await namespace.connect(port)
        back.write(pli_xml("TEAM", "Rescue-3"))
        await eventually(lambda: registry.by_uid("TEAM") is not None, what="the team back")
        marker, marker_uid = chat("after the mail", "Rescue-3")
        post.write(marker)
        last = bytearray()
        await read_until(back_reader, last, b"after the mail")

        assert server.context.counters.get("mail_returned") > 0, "no reset came with chats in flight"
        assert list(dict.fromkeys(chats_in(*received, last))) == [*sent, marker_uid]
        post_seen.cancel()
        for writer in (post, other, back):
            writer.close()
    finally:
        await server.stop()

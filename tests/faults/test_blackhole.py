"""A device that walks out of coverage: no FIN or RST reaches the server, its mail is kept.

The row of the delivery issue: "device walks out of coverage (no FIN/RST reaches the
server), back after 43 s: 0/40; the dead socket was never noticed". The team is in its own
network namespace; its link goes down while the server believes it connected. Either the
post keeps writing to it (the written bytes stay unacknowledged and ``TCP_USER_TIMEOUT``
ends the connection) or nobody writes to it (keepalive probes go unanswered or, with
keepalive off, the server's own keepalive stays unacknowledged). The timers are set short here so the wait is short; the server must notice, hand what was not
acknowledged back to the mailbox, and give the team every chat exactly once, in order, when
it comes back on a new connection. A bystander keeps being served throughout.
"""

import asyncio
import re
from pathlib import Path

import pytest

from rallypoint.server.server import Server
from rallypoint.transport.stream import StreamConnection
from tests.faults.conftest import fault_settings
from tests.faults.netns import Namespace
from tests.interop.clients import chat_xml, pli_xml
from tests.waiting import EVENT_TIMEOUT_S, eventually

BURST = 20

FAST_TIMERS = {
    "tcp_keepalive_idle_s": 1,
    "tcp_keepalive_interval_s": 1,
    "tcp_keepalive_probes": 2,
    "tcp_user_timeout_s": 2.0,
    "server_ping_interval_s": 0.0,
}
"""A silent dead link is found by keepalive after about 3 s, a written one after about 2 s."""

PINGS_ONLY = FAST_TIMERS | {"tcp_keepalive_idle_s": 3600, "server_ping_interval_s": 1.0}
"""Keepalive probes would start only after an hour: the server's own keepalive, unacknowledged
on the dead link, lets the user timeout find it after about 3 s."""

CASES = {
    "written-to": (True, FAST_TIMERS),
    "silent": (False, FAST_TIMERS),
    "silent-pinged": (False, PINGS_ONLY),
}

_UID = re.compile(rb'<event [^>]*uid="(GeoChat[^"]+)"')


def chat(text: str, to: str) -> tuple[bytes, str]:
    """A direct chat from the post and its uid."""
    xml = chat_xml("POST", "Command", text + " " + "x" * 200, to_callsign=to)
    match = _UID.search(xml)
    assert match is not None
    return xml, match.group(1).decode()


async def read_until(reader: asyncio.StreamReader, into: bytearray, marker: bytes) -> None:
    async with asyncio.timeout(EVENT_TIMEOUT_S):
        while marker not in into:
            chunk = await reader.read(65536)
            assert chunk, "the connection closed"
            into += chunk


def chats_in(*received: bytearray) -> list[str]:
    """The chat uids in what each connection received (each on its own: one may end mid-event)."""
    return [uid.decode() for part in received for uid in _UID.findall(bytes(part))]


def connection_of(server: Server, uid: str) -> StreamConnection | None:
    for connection in server.context.connections:
        assert isinstance(connection, StreamConnection)
        if connection.subscriber is not None and connection.subscriber.uid == uid:
            return connection
    return None


def all_acknowledged(server: Server, uid: str) -> bool:
    """The server has seen the device's TCP stack acknowledge everything directed to it."""
    connection = connection_of(server, uid)
    return connection is not None and not connection.egress.acks


@pytest.mark.parametrize("case", CASES)
async def test_a_device_out_of_coverage_gets_every_chat_once_in_order_when_back(
    tmp_path: Path, namespace: Namespace, case: str
) -> None:
    written, timers = CASES[case]
    server = Server(fault_settings(tmp_path, host=namespace.host_address, **timers))
    port = (await server.start()).tcp
    registry = server.context.router.registry
    counters = server.context.counters
    try:
        host = namespace.host_address
        post_reader, post = await asyncio.open_connection(host, port)  # these two stay on this host
        other_reader, other = await asyncio.open_connection(host, port)
        team_reader, team = await namespace.connect(port)
        post.write(pli_xml("POST", "Command"))
        other.write(pli_xml("OTHER", "Bystander"))
        team.write(pli_xml("TEAM", "Rescue-3"))
        await eventually(lambda: all(registry.by_uid(u) for u in ("POST", "OTHER", "TEAM")), what="all bound")
        post_seen = asyncio.create_task(post_reader.read(1 << 20))  # the post's answers, never read back

        sent: list[str] = []
        for number in range(BURST):
            xml, uid = chat(f"live {number}", "Rescue-3")
            post.write(xml)
            sent.append(uid)
        first = bytearray()
        await read_until(team_reader, first, f"live {BURST - 1} ".encode())
        await eventually(lambda: all_acknowledged(server, "TEAM"), what="the live chats acknowledged")

        namespace.blackhole()
        if written:
            for number in range(BURST):
                xml, uid = chat(f"unseen {number}", "Rescue-3")
                post.write(xml)
                sent.append(uid)
        await eventually(lambda: registry.by_uid("TEAM") is None, what="the dead link noticed")
        if written:
            assert counters.get("mail_returned") == BURST
        else:
            assert (counters.get("pings_sent") > 0) == (timers is PINGS_ONLY)
            for number in range(BURST):
                xml, uid = chat(f"kept {number}", "Rescue-3")
                post.write(xml)
                sent.append(uid)
        await eventually(lambda: counters.get("mail_kept") >= BURST, what="the chats kept")
        other_seen = bytearray()
        post.write(chat("while the team is away", "Bystander")[0])
        await read_until(other_reader, other_seen, b"while the team is away")

        team.transport.abort()  # the old socket is gone with the device's old link
        namespace.restore()
        back_reader, back = await namespace.connect(port)
        back.write(pli_xml("TEAM", "Rescue-3"))
        await eventually(lambda: registry.by_uid("TEAM") is not None, what="the team back")
        marker, marker_uid = chat("after the mail", "Rescue-3")
        post.write(marker)
        second = bytearray()
        await read_until(back_reader, second, b"after the mail")

        assert chats_in(first, second) == [*sent, marker_uid]  # exactly once, in order
        post_seen.cancel()
        for writer in (post, other, back):
            writer.close()
    finally:
        await server.stop()

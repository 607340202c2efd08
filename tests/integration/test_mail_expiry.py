"""Kept mail past ``mail_max_age_s`` expires through the server's own timer, on its clock.

A real server (SQLite store, plain TCP) runs on a :class:`~rallypoint.clock.ManualClock`: a
chat to a device that left is answered pending; when the clock passes the age limit the timer
runs the mailbox's sweep, which removes the chat, counts it and answers its still connected
sender ``b-t-f-s``; the device, back, gets nothing of it.
"""

import asyncio
import dataclasses

from rallypoint.clock import ManualClock
from rallypoint.config import Settings
from rallypoint.server.server import Server
from tests.interop.clients import HOST, chat_xml, pli_xml
from tests.waiting import EVENT_TIMEOUT_S, eventually

MAX_AGE_S = 3600.0


async def _read_until(reader: asyncio.StreamReader, wanted: bytes, seen: bytearray) -> None:
    async with asyncio.timeout(EVENT_TIMEOUT_S):
        while wanted not in seen:
            chunk = await reader.read(65536)
            assert chunk, "the server closed the connection"
            seen += chunk


async def test_an_expired_chat_is_removed_counted_and_its_sender_told(server_settings: Settings) -> None:
    clock = ManualClock()
    settings = dataclasses.replace(server_settings, udp_port=None, mail_max_age_s=MAX_AGE_S)
    server = Server(settings, clock=clock)
    ports = await server.start()
    registry, counters = server.context.router.registry, server.context.counters
    try:
        _team_reader, team = await asyncio.open_connection(HOST, ports.tcp)
        team.write(pli_xml("TEAM", "Rescue-3"))
        await eventually(lambda: registry.by_uid("TEAM") is not None, what="team bound")
        team.close()
        await eventually(lambda: registry.by_uid("TEAM") is None, what="team gone")

        post_reader, post = await asyncio.open_connection(HOST, ports.tcp)
        post.write(pli_xml("POST", "Command"))
        chat = chat_xml("POST", "Command", "will expire", to_callsign="Rescue-3")
        post.write(chat)
        seen = bytearray()
        await _read_until(post_reader, b'type="b-t-f-p"', seen)
        assert counters.get("mail_kept") == 1

        clock.advance(MAX_AGE_S + 120)  # past the age, and past the next sweep
        await _read_until(post_reader, b'type="b-t-f-s"', seen)
        assert counters.get("mail_lost{reason=expired}") == 1
        assert b"will expire" in seen.split(b'type="b-t-f-s"')[1]

        back_reader, back = await asyncio.open_connection(HOST, ports.tcp)
        back.write(pli_xml("TEAM", "Rescue-3"))
        await eventually(lambda: registry.by_uid("TEAM") is not None, what="team back")
        post.write(chat_xml("POST", "Command", "fresh", to_callsign="Rescue-3"))
        received = bytearray()
        await _read_until(back_reader, b"fresh", received)
        assert b"will expire" not in received
        back.close()
        post.close()
    finally:
        await server.stop()

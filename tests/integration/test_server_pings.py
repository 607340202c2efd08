"""The server sends its own keepalive to a streaming connection silent both ways, on its clock.

The server runs on a :class:`ManualClock`: a connection that neither sent nor was sent
anything for ``server_ping_interval_s`` gets a ``takPong`` (counted as ``pings_sent``);
one that pinged the server meanwhile (and got its answer) is not due yet. Each assertion
follows a timer run that checked every connection, so what was not sent was decided.
"""

from pathlib import Path

from rallypoint.clock import ManualClock
from rallypoint.server.server import Server
from tests.interop.clients import TakClient, has_type, ping_xml
from tests.settings import listening
from tests.waiting import eventually

INTERVAL_S = 10.0


async def test_a_silent_connection_gets_a_keepalive_and_a_chatty_one_does_not(tmp_path: Path) -> None:
    settings = listening(tmp_path, server_ping_interval_s=INTERVAL_S)
    clock = ManualClock()
    server = Server(settings, clock=clock)
    port = (await server.start()).tcp
    counters = server.context.counters
    try:
        silent, chatty = await TakClient.connect(port, "silent"), await TakClient.connect(port, "chatty")
        for client in (silent, chatty):
            await client.receive(has_type("t-x-takp-v"))

        clock.advance(0.6 * INTERVAL_S)
        await chatty.send(ping_xml("CHATTY"))
        await chatty.receive(has_type("t-x-c-t-r"))  # the answer to its ping, not a keepalive
        assert counters.get("pings_sent") == 0

        clock.advance(0.6 * INTERVAL_S)  # silent: 1.2 intervals; chatty: 0.6 since its ping
        keepalive = await silent.receive(has_type("t-x-c-t-r"))
        assert keepalive.uid == "takPong"
        assert counters.get("pings_sent") == 1

        clock.advance(0.6 * INTERVAL_S)  # chatty: 1.2 intervals; silent: 0.6 since its keepalive
        await chatty.receive(has_type("t-x-c-t-r"))
        await eventually(lambda: counters.get("pings_sent") == 2, what="the chatty one's keepalive")
        clock.advance(0.6 * INTERVAL_S)  # silent: 1.2 since its keepalive
        await silent.receive(has_type("t-x-c-t-r"))
        assert counters.get("pings_sent") == 3
        for client in (silent, chatty):
            client.writer.close()
    finally:
        await server.stop()

"""An idle connection holds only what every connection needs (issue 18: 10 000 idle clients).

What a connection may need later (the queue of written messages awaiting acknowledgement,
the decoder's bytes of an unfinished message) is made when it is first needed, and what all
anonymous connections share (their group set) is one object. These count structures, never
bytes or times: an idle server's memory must grow with its connections only by the fixed
per-connection objects.
"""

import asyncio

from rallypoint.router.registry import ANONYMOUS_GROUP
from rallypoint.transport.stream import StreamConnection
from tests.conftest import RunningServer, read_until
from tests.waiting import eventually

CLIENTS = 20


def _connections(server: RunningServer) -> list[StreamConnection]:
    return [c for c in server.server.context.connections if isinstance(c, StreamConnection)]


async def test_idle_connections_hold_no_buffers_before_their_first_byte(
    running_server: RunningServer,
) -> None:
    streams = [await running_server.connect() for _ in range(CLIENTS)]
    try:
        for reader, _ in streams:  # every connection was let in and sent its protocol offer
            await read_until(reader, lambda received: b"t-x-takp-v" in received)
        await eventually(lambda: len(_connections(running_server)) == CLIENTS, what="every connection open")
        connections = _connections(running_server)
        for connection in connections:
            assert not hasattr(connection, "__dict__")
            assert connection.decoder.pending_bytes == 0
            assert not connection.egress.outbox
            assert not connection.egress.acks.allocated  # the offer is not kept for the mailbox
            assert connection.subscriber is not None
            assert connection.subscriber.pending == []
        groups = {
            id(g)
            for c in connections
            if c.subscriber
            for g in (c.subscriber.in_groups, c.subscriber.out_groups)
        }
        assert len(groups) == 1
        assert connections[0].subscriber is not None
        assert connections[0].subscriber.in_groups == {ANONYMOUS_GROUP}
    finally:
        for _, writer in streams:
            writer.close()
        await asyncio.gather(*(writer.wait_closed() for _, writer in streams), return_exceptions=True)

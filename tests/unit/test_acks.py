"""Written messages count as delivered once the peer's TCP stack acknowledged their bytes."""

import socket

from rallypoint.cot.xml import parse_event
from rallypoint.router.message import Outbound
from rallypoint.transport.acks import AckTracker, unacknowledged_bytes

_EVENT = (
    b'<event version="2.0" uid="m1" type="b-t-f" how="h-g-i-g-o" time="2023-11-14T22:13:20Z"'
    b' start="2023-11-14T22:13:20Z" stale="2099-01-01T00:00:00Z"><point lat="1" lon="2"/></event>'
)


def _message(uid: str) -> Outbound:
    return Outbound(parse_event(_EVENT.replace(b'uid="m1"', f'uid="{uid}"'.encode())), returnable=True)


def _pair() -> tuple[socket.socket, socket.socket]:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        server, _ = listener.accept()
    return server, client


def _acknowledged_all(tracker: AckTracker, sock: socket.socket) -> list[Outbound]:
    """Poll until the kernel reports the send queue empty (loopback acknowledges at once)."""
    done: list[Outbound] = []
    for _ in range(100_000):  # bounded; loopback's ACK is immediate, this is a handful of turns
        done += tracker.acknowledged(0)
        if unacknowledged_bytes(sock) == 0 and not tracker:
            break
    return done


def test_messages_written_to_a_connected_peer_are_acknowledged_in_order() -> None:
    server, client = _pair()
    with server, client:
        tracker = AckTracker(server, exact=True)
        first, second = _message("a"), _message("b")
        server.sendall(b"x" * 100)
        tracker.wrote(100, [first])
        server.sendall(b"y" * 100)
        tracker.wrote(100, [second])
        assert _acknowledged_all(tracker, server) == [first, second]
        assert tracker.unacknowledged() == []


def test_bytes_asyncio_still_buffers_are_not_acknowledged() -> None:
    server, client = _pair()
    with server, client:
        tracker = AckTracker(server, exact=True)
        message = _message("a")
        tracker.wrote(100, [message])  # nothing reached the kernel: all of it is "buffered"
        assert tracker.acknowledged(100) == []
        assert tracker.unacknowledged() == [message]


def test_tls_counts_nothing_until_everything_is_acknowledged() -> None:
    server, client = _pair()
    with server, client:
        tracker = AckTracker(server, exact=False)
        first, second = _message("a"), _message("b")
        tracker.wrote(100, [first])
        tracker.wrote(100, [second])
        assert tracker.acknowledged(1) == []  # one byte still buffered: neither is known delivered
        assert tracker.acknowledged(0) == [first, second]


def test_a_reset_connection_acknowledges_nothing() -> None:
    server, client = _pair()
    with server:
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        client.close()  # RST
        for _ in range(100_000):  # bounded: wait for the kernel to see the reset
            try:
                server.send(b"x")
            except OSError:
                break
        tracker = AckTracker(server, exact=True)
        tracker.wrote(1, [_message("a")])
        assert unacknowledged_bytes(server) is None
        assert tracker.acknowledged(0) == []


def test_the_queue_of_written_messages_is_made_only_for_a_returnable_one() -> None:
    """An idle connection's tracker holds no queue: it is made at the first returnable write
    and let go once what it held was handed back."""
    tracker = AckTracker(None, exact=True)
    tracker.wrote(400, [])  # the protocol offer, a keepalive: nothing to track
    assert not tracker.allocated
    assert tracker.acknowledged(0) == []
    assert tracker.unacknowledged() == []
    assert not tracker.allocated
    message = _message("a")
    tracker.wrote(300, [message])
    assert tracker.allocated
    assert tracker.unacknowledged() == [message]
    assert not tracker.allocated
    assert tracker.written == 700

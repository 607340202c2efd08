"""Hostile and broken clients against a real server (STYLE.md habits 3, 5, 6).

Every test attacks with one client and then proves that the server still serves the others:
a bystander connected before the attack and a newcomer connected after it exchange position
reports both ways (:func:`assert_still_served`). Counters and log lines show what the
server decided. The server's connection clock is a :class:`ManualClock`: time passes only
when a test moves it on, so a timeout fires exactly when the test says and never because
the machine was slow. Every wait for the server is bounded and polls a condition or a
received message.
"""

import asyncio
import contextlib
import itertools
import logging
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from takproto.constants import TAKProtoVer
from takproto.functions import msg2proto
from takproto.proto import TakMessage

from rallypoint.clock import ManualClock
from rallypoint.config import Settings
from rallypoint.server import server as server_module
from rallypoint.server.server import Server
from rallypoint.transport.stream import StreamConnection
from tests.conftest import RunningServer
from tests.interop.clients import (
    HOST,
    ClientPool,
    TakClient,
    cot_time,
    event_xml,
    eventually,
    has_type,
    has_uid,
    ping_xml,
    pli_xml,
)
from tests.settings import listening

PARTIAL_MESSAGE_TIMEOUT_S = 0.5
STALL_TIMEOUT_S = 0.5
MAX_BAD_MESSAGES = 4
OUTBOX_MAX_MESSAGES = 50
MAX_EVENT_BYTES = 64 * 1024


@pytest.fixture
def server_settings(tmp_path: Path) -> Settings:
    """Short timeouts and small queues, so each defence triggers within a second."""
    return listening(
        tmp_path,
        max_event_bytes=MAX_EVENT_BYTES,
        partial_message_timeout_s=PARTIAL_MESSAGE_TIMEOUT_S,
        stall_timeout_s=STALL_TIMEOUT_S,
        max_bad_messages=MAX_BAD_MESSAGES,
        outbox_max_messages=OUTBOX_MAX_MESSAGES,
    )


@pytest.fixture(autouse=True)
def fast_tick(monkeypatch: pytest.MonkeyPatch) -> None:
    """Check timeouts every 20 ms instead of every second (once the test has moved the clock on)."""
    monkeypatch.setattr(server_module, "TICK_INTERVAL_S", 0.02)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def running_server(running_server: RunningServer, clock: ManualClock) -> RunningServer:
    """The shared test server, its timers on ``clock`` (set before any client connects)."""
    running_server.server.context.clock = clock
    return running_server


def server_side(running_server: RunningServer, client: TakClient) -> StreamConnection:
    """The server's connection object for ``client`` (connected: its offer has arrived)."""
    host, port = client.writer.get_extra_info("sockname")[:2]
    connections = running_server.server.context.connections
    return next(c for c in connections if isinstance(c, StreamConnection) and c.peer == f"{host}:{port}")


async def send_and_wait(connection: StreamConnection, client: TakClient, data: bytes, pending: int) -> None:
    """Send ``data`` and wait until the server has read it: its decoder holds ``pending`` bytes
    of an unfinished message (0: the message is complete)."""
    await client.send_raw(data)
    await eventually(lambda: connection.decoder.pending_bytes == pending)


@pytest.fixture(autouse=True)
def server_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="rallypoint")
    return caplog


def logged(caplog: pytest.LogCaptureFixture, text: str) -> bool:
    return any(
        text in record.getMessage() for record in caplog.records if record.name.startswith("rallypoint")
    )


def rejected(running_server: RunningServer) -> dict[str, int]:
    """The ``rejected{reason=...}`` counters, by reason."""
    snapshot = running_server.server.context.counters.snapshot()
    prefix = "rejected{reason="
    return {name[len(prefix) : -1]: value for name, value in snapshot.items() if name.startswith(prefix)}


def events_in(running_server: RunningServer) -> int:
    snapshot = running_server.server.context.counters.snapshot()
    return sum(value for name, value in snapshot.items() if name.startswith("events_in"))


def proto_frame(uid: str, *, lat: float = 1.0, xml_detail: str | None = None) -> bytes:
    """A TAK protocol v1 stream frame built with takproto from fields (not from XML)."""
    message = TakMessage()
    cot = message.cotEvent
    now_ms = int(time.time() * 1000)
    cot.type, cot.uid, cot.how = "a-f-G-U-C", uid, "m-g"
    cot.sendTime, cot.startTime, cot.staleTime = now_ms, now_ms, now_ms + 60_000
    cot.lat, cot.lon, cot.hae, cot.ce, cot.le = lat, 2.0, 0.0, 9999999.0, 9999999.0
    if xml_detail is not None:
        cot.detail.xmlDetail = xml_detail
    return bytes(msg2proto(message, TAKProtoVer.STREAM))


def varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


async def connect_bystander(pool: ClientPool) -> TakClient:
    """A well-behaved client, attached before the attack starts."""
    bystander = await pool.connect("bystander")
    await bystander.receive(has_type("t-x-takp-v"))
    return bystander


async def assert_still_served(pool: ClientPool, bystander: TakClient) -> None:
    """The bystander and a brand-new client exchange position reports both ways."""
    newcomer = await pool.connect(f"newcomer-{len(pool.clients)}")
    await newcomer.receive_until_offer()
    lat = len(pool.clients) + 0.25
    await bystander.send(pli_xml("UID-BYSTANDER", "BYSTANDER", lat=lat))
    received = await newcomer.receive(has_uid("UID-BYSTANDER"))
    assert received.lat == lat
    await newcomer.send(pli_xml("UID-NEWCOMER", "NEWCOMER", lat=lat))
    received = await bystander.receive(has_uid("UID-NEWCOMER"))
    assert received.lat == lat
    assert not bystander.seen(lambda m: m.uid.startswith("ATTACK")), "nothing from an attacker was routed"


async def send_ignoring_reset(client: TakClient, data: bytes) -> None:
    """Write an attack; the server may reset the connection while we are still writing."""
    with contextlib.suppress(ConnectionError):
        await client.send_raw(data)


# Oversized input (cap: max_event_bytes = 64 KiB)

OPEN_EVENT = (
    f'<event version="2.0" uid="ATTACK-BIG" type="a-f-G" how="m-g" time="{cot_time()}" start="{cot_time()}"'
    f' stale="{cot_time(60)}"><point lat="1" lon="2"/><detail><remarks>'
).encode()


@pytest.mark.parametrize("terminated", [False, True], ids=["unterminated", "terminated"])
async def test_oversized_xml_event_disconnects_the_sender(
    running_server: RunningServer, server_logs: pytest.LogCaptureFixture, terminated: bool
) -> None:
    padding = b"A" * (MAX_EVENT_BYTES + 1024)
    attack = OPEN_EVENT + padding + (b"</remarks></detail></event>" if terminated else b"")
    async with ClientPool(running_server.ports.tcp) as pool:
        bystander = await connect_bystander(pool)
        attacker = await pool.connect("attacker")
        await send_ignoring_reset(attacker, attack)
        assert await attacker.closed_by_server()
        await assert_still_served(pool, bystander)

    assert rejected(running_server) == {"frame_too_large": 1}
    assert logged(server_logs, "disconnected: frame_too_large")


@pytest.mark.parametrize("negotiated", [False, True], ids=["without_negotiation", "after_negotiation"])
async def test_oversized_protobuf_length_disconnects_the_sender(
    running_server: RunningServer, server_logs: pytest.LogCaptureFixture, negotiated: bool
) -> None:
    async with ClientPool(running_server.ports.tcp) as pool:
        bystander = await connect_bystander(pool)
        attacker = await pool.connect("attacker", negotiate=negotiated)
        # A header announcing 16 MiB: refused from the header alone, before any payload is buffered.
        await send_ignoring_reset(attacker, b"\xbf" + varint(16 * 1024 * 1024) + b"\x12\x00")
        assert await attacker.closed_by_server()
        await assert_still_served(pool, bystander)

    assert rejected(running_server) == {"frame_too_large": 1}
    assert logged(server_logs, "disconnected: frame_too_large")


async def test_unterminated_xml_then_close_leaves_nothing_behind(running_server: RunningServer) -> None:
    context = running_server.server.context
    async with ClientPool(running_server.ports.tcp) as pool:
        bystander = await connect_bystander(pool)
        attacker = await pool.connect("attacker")
        await attacker.send_raw(pli_xml("ATTACK-HALF", "HALF")[:120])
        await attacker.close()
        await eventually(lambda: context.counters.get("connections_closed{transport=tcp}") == 1)
        assert len(context.connections) == 1
        await assert_still_served(pool, bystander)

    assert rejected(running_server) == {}
    assert context.router.registry.by_uid("ATTACK-HALF") is None


# Entity expansion and external entities: refused before any parser sees them

_EVENT_TAIL = (
    f' type="a-f-G" how="m-g" time="{cot_time()}" start="{cot_time()}" stale="{cot_time(60)}">'
    '<point lat="1" lon="2"/><detail><remarks>{body}</remarks></detail></event>'
)
BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE event [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10}">' for i in range(1, 10)).replace(
        "&lol0;", "&lol;"
    )
    + ']>\n<event version="2.0" uid="ATTACK-LAUGHS"'
    + _EVENT_TAIL.format(body="&lol9;")
)
QUADRATIC_BLOWUP = (
    f'<?xml version="1.0"?>\n<!DOCTYPE event [<!ENTITY a "{"a" * 50_000}">]>\n<event version="2.0"'
    ' uid="ATTACK-QUADRATIC"' + _EVENT_TAIL.format(body="&a;" * 1000)
)
XXE_FILE = (
    '<?xml version="1.0"?>\n<!DOCTYPE event [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
    '<event version="2.0" uid="ATTACK-XXE"' + _EVENT_TAIL.format(body="&xxe;")
)
XXE_INSIDE_EVENT = '<event version="2.0" uid="ATTACK-XXE-INSIDE"' + _EVENT_TAIL.format(
    body='<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>&xxe;'
)
XXE_IN_PROTOBUF = proto_frame(
    "ATTACK-XXE-PROTO",
    xml_detail='<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><remarks>&xxe;</remarks>',
)


@pytest.mark.parametrize(
    "attack",
    [
        BILLION_LAUGHS.encode(),
        QUADRATIC_BLOWUP.encode(),
        XXE_FILE.encode(),
        XXE_INSIDE_EVENT.encode(),
        XXE_IN_PROTOBUF,
    ],
    ids=["billion_laughs", "quadratic_blowup", "xxe_file", "xxe_inside_event", "xxe_in_protobuf_detail"],
)
async def test_entity_attacks_are_refused_unexpanded(
    running_server: RunningServer, server_logs: pytest.LogCaptureFixture, attack: bytes
) -> None:
    async with ClientPool(running_server.ports.tcp) as pool:
        bystander = await connect_bystander(pool)
        attacker = await pool.connect("attacker")
        await send_ignoring_reset(attacker, attack)
        assert await attacker.closed_by_server()
        await assert_still_served(pool, bystander)

    reasons = rejected(running_server)
    assert sum(reasons.values()) == 1
    assert set(reasons) <= {"forbidden_xml", "malformed_frame"}
    assert events_in(running_server) == 2  # the two reports of assert_still_served, nothing else
    for message in bystander.history:
        assert b"lollol" not in message.raw
        assert b"root:" not in message.raw
        assert b"aaaa" not in message.raw
    assert logged(server_logs, "disconnected:")


# Bytes that are not CoT at all

GARBAGE = {
    "nul_bytes": b"\x00" * 64,
    "http_request": b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    "tls_client_hello": bytes.fromhex("16030100c4010000c00303") + bytes(range(32)),
    "html_tag": b"<html><body>hello</body></html>",
    "protobuf_payload_not_a_takmessage": b"\xbf\x06" + b"\xff" * 6,
}


@pytest.mark.parametrize("garbage", GARBAGE.values(), ids=GARBAGE.keys())
async def test_garbage_bytes_disconnect_the_sender(
    running_server: RunningServer, server_logs: pytest.LogCaptureFixture, garbage: bytes
) -> None:
    async with ClientPool(running_server.ports.tcp) as pool:
        bystander = await connect_bystander(pool)
        attacker = await pool.connect("attacker")
        await send_ignoring_reset(attacker, garbage)
        assert await attacker.closed_by_server()
        await assert_still_served(pool, bystander)

    assert rejected(running_server) == {"malformed_frame": 1}
    assert logged(server_logs, "disconnected: malformed_frame")


async def test_broken_varint_disconnects_the_sender(
    running_server: RunningServer, server_logs: pytest.LogCaptureFixture
) -> None:
    async with ClientPool(running_server.ports.tcp) as pool:
        bystander = await connect_bystander(pool)
        attacker = await pool.connect("attacker")
        await send_ignoring_reset(attacker, b"\xbf" + b"\xff" * 11)
        assert await attacker.closed_by_server()
        await assert_still_served(pool, bystander)

    assert rejected(running_server) == {"malformed_frame": 1}
    assert logged(server_logs, "disconnected: malformed_frame")


# Slow senders (partial_message_timeout_s = 0.5 s, on the manual clock)


@pytest.mark.parametrize("kind", ["xml", "protobuf"])
async def test_slowloris_is_disconnected(
    running_server: RunningServer, clock: ManualClock, server_logs: pytest.LogCaptureFixture, kind: str
) -> None:
    """A byte every 0.1 s never finishes the message: the timer runs from its first byte."""
    counters = running_server.server.context.counters
    message = pli_xml("ATTACK-SLOW", "SLOW") if kind == "xml" else proto_frame("ATTACK-SLOW")
    step = PARTIAL_MESSAGE_TIMEOUT_S / 5
    async with ClientPool(running_server.ports.tcp) as pool:
        bystander = await connect_bystander(pool)
        attacker = await pool.connect("attacker")
        await attacker.receive(has_type("t-x-takp-v"))
        connection = server_side(running_server, attacker)
        await send_and_wait(connection, attacker, message[:1], 1)
        for sent in range(1, 5):  # 0.4 s of trickle: the server must still wait
            clock.advance(step)
            await send_and_wait(connection, attacker, message[sent : sent + 1], sent + 1)
            connection.check_timeouts(clock())
        assert counters.get("disconnected{reason=slow_sender}") == 0, "disconnected before the timeout"

        clock.advance(2 * step)  # 0.6 s since the first byte, 0.2 s since the last one
        assert await attacker.closed_by_server()
        await assert_still_served(pool, bystander)

    assert counters.get("disconnected{reason=slow_sender}") == 1
    assert logged(server_logs, "left a message unfinished")


async def test_slow_but_steady_sender_is_kept(running_server: RunningServer, clock: ManualClock) -> None:
    """Each message arrives in pieces within the timeout; together they take longer than it."""
    counters = running_server.server.context.counters
    step = PARTIAL_MESSAGE_TIMEOUT_S / 10
    async with ClientPool(running_server.ports.tcp) as pool:
        bystander = await connect_bystander(pool)
        sender = await pool.connect("slow-sender")
        await sender.receive(has_type("t-x-takp-v"))
        connection = server_side(running_server, sender)
        started = clock()
        for index in range(4):
            message = pli_xml("UID-SLOW", "SLOW", lat=float(index))
            for offset in range(0, len(message), 64):  # 7 pieces: each message within 0.35 s
                piece = message[offset : offset + 64]
                await send_and_wait(connection, sender, piece, (offset + len(piece)) % len(message))
                clock.advance(step)
                connection.check_timeouts(clock())
            received = await bystander.receive(has_uid("UID-SLOW"))
            assert received.lat == float(index)
        assert clock() - started > 2 * PARTIAL_MESSAGE_TIMEOUT_S
        await assert_still_served(pool, sender)

    assert counters.get("disconnected{reason=slow_sender}") == 0


async def test_steady_stream_cut_mid_message_is_kept(
    running_server: RunningServer, clock: ManualClock
) -> None:
    """A busy client whose reads never end on a message boundary is making progress, not trickling.

    The partial-message timer belongs to the message being received: a read that completes a
    message and leaves the start of the next one pending starts the timer afresh. (It once ran
    from the *first* partial read, so a gateway streaming steadily in chunks that straddle
    messages was disconnected as ``slow_sender``.)
    """
    counters = running_server.server.context.counters
    messages = [pli_xml("UID-STEADY", "STEADY", lat=float(index) + 0.5) for index in range(16)]
    stream = b"".join(messages)
    ends = list(itertools.accumulate(len(message) for message in messages))
    chunk = 97  # a prime: chunk ends never fall on a message end within this stream
    step = PARTIAL_MESSAGE_TIMEOUT_S / 10  # a whole message every ~0.25 s
    async with ClientPool(running_server.ports.tcp) as pool:
        bystander = await connect_bystander(pool)
        sender = await pool.connect("steady-sender")
        await sender.receive(has_type("t-x-takp-v"))
        connection = server_side(running_server, sender)
        started = clock()
        for offset in range(0, len(stream), chunk):
            sent = min(offset + chunk, len(stream))
            complete = max([end for end in ends if end <= sent], default=0)
            await send_and_wait(connection, sender, stream[offset:sent], sent - complete)
            clock.advance(step)
            connection.check_timeouts(clock())
        assert counters.get("disconnected{reason=slow_sender}") == 0, (
            "a client completing a message every ~0.25 s was disconnected as a slow sender"
        )
        received = [await bystander.receive(has_uid("UID-STEADY")) for _ in messages]
        await assert_still_served(pool, sender)

    assert clock() - started > 2 * PARTIAL_MESSAGE_TIMEOUT_S
    assert [m.lat for m in received] == [float(index) + 0.5 for index in range(16)]


# A client that never reads while another floods (stall_timeout_s = 0.5 s on the manual clock,
# outbox of 50 messages)


async def open_stalled_socket(port: int) -> socket.socket:
    """A connection with a tiny receive buffer that the test never reads from."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, (HOST, port))
    return sock


@contextlib.asynccontextmanager
async def stalled_socket(port: int) -> AsyncIterator[socket.socket]:
    sock = await open_stalled_socket(port)
    try:
        yield sock
    finally:
        sock.close()


FLOOD_BATCH = 20
FLOOD_LIMIT_BYTES = 128 * 1024 * 1024
"""If the server never pushes back, the test fails instead of flooding forever."""


@pytest.mark.parametrize(
    ("flood", "trigger", "verdict", "log_text"),
    [
        (
            "position_reports",
            "outbox{result=replaced}",
            "disconnected{reason=stalled}",
            "accepted no data for 0.5 s",
        ),
        ("map_items", "outbox{result=overflow}", "outbox{result=overflow}", "write queue full"),
    ],
)
async def test_stalled_reader_is_disconnected_and_others_unaffected(
    running_server: RunningServer,
    clock: ManualClock,
    server_logs: pytest.LogCaptureFixture,
    flood: str,
    trigger: str,
    verdict: str,
    log_text: str,
) -> None:
    """Position reports replace each other in the stuck queue until the stall timeout;
    map items are never dropped, so the queue overflows and the client goes at once.

    Only the stalled client has writes paused when the clock moves on: the reader has read
    everything sent to it, and nothing is sent to the flooder."""
    context = running_server.server.context
    counters = context.counters
    padding = "x" * 4000
    async with ClientPool(running_server.ports.tcp) as pool, stalled_socket(running_server.ports.tcp):
        flooder = await pool.connect("flooder")
        reader = await pool.connect("reader")
        await flooder.receive(has_type("t-x-takp-v"))
        await reader.receive(has_type("t-x-takp-v"))
        await eventually(lambda: len(context.connections) == 3)

        sent = batch = 0
        while counters.get(trigger) == 0:
            assert sent < FLOOD_LIMIT_BYTES, "the stalled client never backed up"
            batch += 1
            for index in range(FLOOD_BATCH):
                remarks = f"<remarks>batch {batch} message {index};{padding}</remarks>"
                if flood == "position_reports":
                    contact = '<contact callsign="FLOODER" endpoint="*:-1:stcp"/>'
                    data = event_xml("UID-FLOODER", "a-f-G-U-C", contact + remarks)
                else:
                    data = event_xml(f"ATTACK-ITEM-{batch}-{index}", "b-m-p-s-m", remarks)
                await flooder.send_raw(data)
                sent += len(data)
            # The well-behaved reader keeps up: it has the batch's last message before the next batch.
            await reader.skip_until(f"batch {batch} message {FLOOD_BATCH - 1};".encode())
        if flood == "position_reports":
            assert counters.get(verdict) == 0, "disconnected before the stall timeout"
            clock.advance(2 * STALL_TIMEOUT_S)
        await eventually(lambda: counters.get(verdict) >= 1)
        await eventually(lambda: len(context.connections) == 2)

        await flooder.send(pli_xml("UID-FLOODER", "FLOODER", lat=7.0))
        assert (await reader.receive(lambda m: m.uid == "UID-FLOODER" and m.lat == 7.0)).lat == 7.0
        await reader.send(pli_xml("UID-READER", "READER", lat=8.0))
        assert (await flooder.receive(has_uid("UID-READER"))).lat == 8.0

    assert counters.get(verdict) == 1
    assert logged(server_logs, log_text)


# Many connections, quickly opened and dropped


async def _open_and_drop(port: int, abort: bool) -> None:
    _reader, writer = await asyncio.open_connection(HOST, port)
    if abort:
        writer.transport.abort()  # RST, like a client that crashed
    else:
        writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()


async def test_two_thousand_connections_opened_and_dropped(running_server: RunningServer) -> None:
    context = running_server.server.context
    port = running_server.ports.tcp
    async with ClientPool(port) as pool:
        bystander = await connect_bystander(pool)
        baseline = len(context.router.registry)
        async with asyncio.timeout(60):
            for batch in range(20):
                await asyncio.gather(*(_open_and_drop(port, abort=(batch + i) % 2 == 0) for i in range(100)))
            # Accepted in the order they connected: once this one is in, none of the storm waits.
            probe = await pool.connect("probe")
            await probe.receive(has_type("t-x-takp-v"))
            await probe.close()
            await eventually(lambda: len(context.connections) == 1)
        opened = context.counters.get("connections_opened{transport=tcp}")
        closed = context.counters.get("connections_closed{transport=tcp}")
        assert opened - closed == 1, "every dropped connection was cleaned up"
        assert opened >= 1 + 1900 + 1, "the listener accepted (nearly) all of them"
        assert len(context.router.registry) == baseline
        await assert_still_served(pool, bystander)


async def test_connections_over_the_limit_are_refused(
    tmp_path: Path, server_logs: pytest.LogCaptureFixture
) -> None:
    settings = listening(tmp_path, max_connections=3)
    server = Server(settings)
    ports = await server.start()
    try:
        async with ClientPool(ports.tcp) as pool:
            members = [await connect_bystander(pool) for _ in range(3)]
            refused = await pool.connect("refused")
            assert await refused.closed_by_server()
            assert server.context.counters.get("connections_refused{reason=limit}") == 1
            await members[0].close()
            await eventually(lambda: len(server.context.connections) == 2)
            await assert_still_served(pool, members[1])
    finally:
        await server.stop()
    assert logged(server_logs, "refused: 3 connections already open")


# Invalid events: dropped and counted, the connection kept unless they keep coming

INVALID_EVENTS = {
    "missing_uid": pli_xml("X", "NOUID").replace(b' uid="X"', b""),
    "bad_time": pli_xml("ATTACK-TIME", "BADTIME").replace(b'time="', b'time="yesterday', 1),
    "lat_out_of_range": pli_xml("ATTACK-LAT", "BADLAT", lat=91.5),
    "lat_out_of_range_protobuf": proto_frame("ATTACK-LAT-PROTO", lat=-95.0),
}


async def test_invalid_events_are_dropped_and_the_connection_kept(
    running_server: RunningServer, server_logs: pytest.LogCaptureFixture
) -> None:
    async with ClientPool(running_server.ports.tcp) as pool:
        bystander = await connect_bystander(pool)
        sender = await pool.connect("sloppy")
        for data in INVALID_EVENTS.values():
            await sender.send_raw(data)
        await sender.send(pli_xml("UID-SLOPPY", "SLOPPY"))
        await bystander.receive(has_uid("UID-SLOPPY"))
        await assert_still_served(pool, bystander)

    assert rejected(running_server) == {"invalid_event": len(INVALID_EVENTS)}
    assert not bystander.seen(lambda m: m.callsign in {"NOUID", "BADTIME", "BADLAT"})
    assert logged(server_logs, "sent a bad message, dropped: invalid_event")
    assert not logged(server_logs, "disconnected")


async def test_too_many_invalid_events_in_a_row_disconnect(
    running_server: RunningServer, server_logs: pytest.LogCaptureFixture
) -> None:
    bad = INVALID_EVENTS["lat_out_of_range"]
    async with ClientPool(running_server.ports.tcp) as pool:
        bystander = await connect_bystander(pool)
        sender = await pool.connect("sloppy")
        # A valid message in between resets the count: 4 + 4 bad ones are tolerated.
        await sender.send_raw(bad * MAX_BAD_MESSAGES + ping_xml("UID-SLOPPY") + bad * MAX_BAD_MESSAGES)
        await sender.send_raw(ping_xml("UID-SLOPPY"))
        await sender.receive(has_type("t-x-c-t-r"))
        await sender.receive(has_type("t-x-c-t-r"))
        assert not logged(server_logs, "disconnected")
        # One more than max_bad_messages in a row: the client is not worth serving.
        await send_ignoring_reset(sender, bad * (MAX_BAD_MESSAGES + 1))
        assert await sender.closed_by_server()
        await assert_still_served(pool, bystander)

    assert rejected(running_server) == {"invalid_event": 3 * MAX_BAD_MESSAGES + 1}
    assert logged(server_logs, "disconnected: invalid_event")


async def test_undefined_entity_in_protobuf_detail_is_dropped_not_expanded(
    running_server: RunningServer,
) -> None:
    """An entity reference with no declaration is just malformed XML: dropped, connection kept."""
    async with ClientPool(running_server.ports.tcp) as pool:
        bystander = await connect_bystander(pool)
        sender = await pool.connect("sender")
        await sender.send_raw(proto_frame("ATTACK-ENTITY", xml_detail="<remarks>&xxe;</remarks>"))
        await sender.send_raw(proto_frame("UID-AFTER"))
        await bystander.receive(has_uid("UID-AFTER"))
        await assert_still_served(pool, bystander)

    assert rejected(running_server) == {"malformed_xml": 1}

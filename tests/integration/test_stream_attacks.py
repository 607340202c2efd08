"""Attacks on the streaming ports against a real server, while a bystander is being served.

The bystander is :class:`~tests.interop.clients.TakClient`, whose splitter is the naive one
many TAK clients use: it cuts the stream after every ``</event>`` it finds. Whatever the
attacker sends, by whatever way in (stream XML, a protobuf ``xmlDetail``, the plain Marti
API, UDP), the bystander must never see an event the attacker could not send directly,
and must keep receiving its peers' messages in order. Counters and log lines show what the
server decided.
"""

import asyncio
import json
import logging
import socket
import time
from pathlib import Path

import httpx
import pytest

from rallypoint.config import Settings
from rallypoint.cot.framing import encode_mesh
from rallypoint.cot.stream import Frame, StreamDecoder
from rallypoint.pki.audit import verify_audit_log
from rallypoint.pki.refusals import DEFAULT_FULL_ENTRIES, DEFAULT_WINDOW_S
from rallypoint.transport import handshake
from rallypoint.transport.handshake import MAX_PENDING_PER_ADDRESS
from rallypoint.transport.stream import MESSAGES_PER_TURN
from tests.conftest import PkiFixture, RunningServer, TlsClients
from tests.integration.test_hostile import (
    ManualClock,
    assert_still_served,
    connect_bystander,
    logged,
    proto_frame,
    rejected,
    send_ignoring_reset,
)
from tests.interop.clients import (
    HOST,
    ClientPool,
    TakClient,
    cot_time,
    event_xml,
    eventually,
    has_uid,
    marker_xml,
    pli_xml,
)
from tests.settings import listening

INJECTION = '</event><event version="2.0" uid="VICTIM" type="a-f-G-U-C" how="m-g" time="{t}" start="{t}" stale="{s}"><point lat="9" lon="9"/><detail><contact callsign="VICTIM" endpoint="*:-1:stcp"/></detail></event>'


def injected() -> str:
    return INJECTION.format(t=cot_time(), s=cot_time(300))


QUOTINGS = {
    "cdata": lambda text: f"<remarks><![CDATA[{text}]]></remarks>",
    "comment": lambda text: f"<remarks>hi</remarks><!--{text}-->",
    "pi": lambda text: f"<remarks>hi</remarks><?note {text}?>",
}


@pytest.fixture
def server_settings(tmp_path: Path) -> Settings:
    return listening(tmp_path, udp_port=0, api_plain_port=0)


@pytest.fixture(autouse=True)
def server_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="rallypoint")
    return caplog


def counter(running_server: RunningServer, name: str) -> int:
    return running_server.server.context.counters.snapshot().get(name, 0)


async def assert_relayed_safely(
    bystander: TakClient,
    peer: TakClient,
    uid: str,
    *,
    kept: str = '&lt;/event&gt;&lt;event version="2.0" uid="VICTIM"',
) -> None:
    """The bystander got ``uid`` whole (``kept`` in its detail), then its peer's next report.

    CDATA arrives as escaped text; comments and processing instructions are dropped."""
    seen = await bystander.receive(has_uid(uid))
    assert kept in seen.raw.decode()
    await peer.send(pli_xml("UID-PEER", "PEER", lat=3.25))
    after = await bystander.receive(lambda m: m.uid == "UID-PEER" and m.lat == 3.25)
    messages = [m.uid for m in bystander.seen(lambda m: True)]
    assert messages.index(uid) < messages.index(after.uid)
    assert not bystander.seen(has_uid("VICTIM")), "a second event was cut out of the relayed one"


@pytest.mark.parametrize("quoting", list(QUOTINGS))
async def test_quoted_end_tag_over_the_stream_is_one_event_and_relayed_safely(
    running_server: RunningServer, server_logs: pytest.LogCaptureFixture, quoting: str
) -> None:
    detail = QUOTINGS[quoting](injected())
    async with ClientPool(running_server.ports.tcp) as pool:
        bystander = await connect_bystander(pool)
        peer = await connect_bystander(pool)
        attacker = await connect_bystander(pool)
        await attacker.send(event_xml("ATTACK-STREAM", "a-h-G", detail))
        kept = "&lt;/event&gt;&lt;event" if quoting == "cdata" else "<remarks>hi</remarks>"
        await assert_relayed_safely(bystander, peer, "ATTACK-STREAM", kept=kept)
    assert counter(running_server, "reserialised{reason=quoted_event_tag}") == 1
    assert rejected(running_server) == {}
    assert logged(server_logs, "quotes an event tag: re-serialised")


async def test_quoted_end_tag_in_protobuf_xml_detail_is_relayed_safely(
    running_server: RunningServer, server_logs: pytest.LogCaptureFixture
) -> None:
    async with ClientPool(running_server.ports.tcp) as pool:
        bystander = await connect_bystander(pool)
        peer = await connect_bystander(pool)
        attacker = await connect_bystander(pool)
        xml_detail = QUOTINGS["cdata"](injected())
        await attacker.send_raw(proto_frame("ATTACK-PROTO", xml_detail=xml_detail))
        await assert_relayed_safely(bystander, peer, "ATTACK-PROTO")
    assert counter(running_server, "reserialised{reason=quoted_event_tag}") == 1
    assert logged(server_logs, "quotes an event tag: re-serialised")


async def test_quoted_end_tag_posted_to_the_marti_api_is_relayed_safely(
    running_server: RunningServer, server_logs: pytest.LogCaptureFixture
) -> None:
    assert running_server.ports.api_plain is not None
    async with ClientPool(running_server.ports.tcp) as pool:
        bystander = await connect_bystander(pool)
        peer = await connect_bystander(pool)
        body = event_xml("ATTACK-REST", "a-h-G", QUOTINGS["cdata"](injected()))
        async with httpx.AsyncClient(base_url=f"http://{HOST}:{running_server.ports.api_plain}") as client:
            answer = await client.post("/Marti/api/cot", content=body)
        assert answer.status_code == 200
        await assert_relayed_safely(bystander, peer, "ATTACK-REST")
    assert counter(running_server, "reserialised{reason=quoted_event_tag}") == 1
    assert logged(server_logs, "quotes an event tag: re-serialised")


@pytest.mark.parametrize("wire", ["xml", "mesh"])
async def test_quoted_end_tag_over_udp_is_relayed_safely(
    running_server: RunningServer, server_logs: pytest.LogCaptureFixture, wire: str
) -> None:
    assert running_server.ports.udp is not None
    detail = QUOTINGS["cdata"](injected())
    datagram = (
        event_xml("ATTACK-UDP", "a-h-G", detail)
        if wire == "xml"
        else encode_mesh(proto_frame("ATTACK-UDP", xml_detail=detail)[3:])
    )
    async with ClientPool(running_server.ports.tcp) as pool:
        bystander = await connect_bystander(pool)
        peer = await connect_bystander(pool)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(datagram, (HOST, running_server.ports.udp))
        await assert_relayed_safely(bystander, peer, "ATTACK-UDP")
    assert counter(running_server, "reserialised{reason=quoted_event_tag}") == 1
    assert logged(server_logs, "quotes an event tag: re-serialised")


async def test_event_element_inside_detail_is_refused(
    running_server: RunningServer, server_logs: pytest.LogCaptureFixture
) -> None:
    nested = f'<event uid="VICTIM" type="a-f-G" how="m-g" time="{cot_time()}" start="{cot_time()}" stale="{cot_time(60)}"/>'
    async with ClientPool(running_server.ports.tcp) as pool:
        bystander = await connect_bystander(pool)
        peer = await connect_bystander(pool)
        attacker = await connect_bystander(pool)
        await send_ignoring_reset(attacker, proto_frame("ATTACK-NESTED", xml_detail=nested))
        await eventually(lambda: rejected(running_server).get("invalid_event") == 1)
        await peer.send(pli_xml("UID-PEER", "PEER", lat=4.5))
        await bystander.receive(lambda m: m.uid == "UID-PEER" and m.lat == 4.5)
    assert not bystander.seen(has_uid("VICTIM"))
    assert not bystander.seen(has_uid("ATTACK-NESTED"))
    assert logged(server_logs, "holds an <event> element")


# Floods of tiny frames: the loop must not be held (issue items 13 and 16)

EMPTY_FRAME = b"\xbf\x00"
EMPTY_CONTROL_FRAME = b"\xbf\x02\x0a\x00"
"""A ``TakMessage`` holding only an empty ``takControl``: legal, and handled as control-only."""


async def test_empty_frame_flood_is_bad_input_and_disconnected(
    running_server: RunningServer, server_logs: pytest.LogCaptureFixture
) -> None:
    async with ClientPool(running_server.ports.tcp) as pool:
        bystander = await connect_bystander(pool)
        attacker = await pool.connect("attacker")
        await send_ignoring_reset(attacker, EMPTY_FRAME * (1024 * 1024))
        assert await attacker.closed_by_server()
        await assert_still_served(pool, bystander)
    assert rejected(running_server) == {"empty_frame": 1}
    assert logged(server_logs, "disconnected: empty_frame")


async def test_flood_of_tiny_frames_is_handled_in_bounded_batches(
    running_server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each read's messages are handled at most MESSAGES_PER_TURN at a time, then the loop
    turns (other clients are served) before the rest of that read is looked at."""
    batches: list[int] = []
    feed = StreamDecoder.feed

    def counting_feed(self: StreamDecoder, data: bytes) -> list[Frame]:
        frames = feed(self, data)
        batches.append(len(frames))
        return frames

    monkeypatch.setattr(StreamDecoder, "feed", counting_feed)
    flood = 50_000
    async with ClientPool(running_server.ports.tcp) as pool:
        bystander = await connect_bystander(pool)
        attacker = await connect_bystander(pool)
        await attacker.send_raw(EMPTY_CONTROL_FRAME * flood)
        await assert_still_served(pool, bystander)
        await eventually(lambda: counter(running_server, "control_only_messages") == flood)
        await attacker.send(pli_xml("UID-ATTACKER", "ATTACKER", lat=5.5))
        seen = await bystander.receive(has_uid("UID-ATTACKER"))
    assert seen.lat == 5.5  # the flooder is still served: its frames were legal
    assert max(batches) == MESSAGES_PER_TURN
    assert sum(batches) >= flood


# Cancelling another's emergency (issue item 11)


def alert_xml(device_uid: str, callsign: str) -> bytes:
    detail = (
        f'<link uid="{device_uid}" type="a-f-G-U-C" relation="p-p"/>'
        f'<emergency type="911 Alert">{callsign}</emergency>'
    )
    return event_xml(f"{device_uid}-9-1-1", "b-a-o-tbl", detail, stale_s=10)


def linked_cancel(own_uid: str, device_uid: str) -> bytes:
    detail = (
        f'<link uid="{device_uid}" type="a-f-G-U-C" relation="p-p"/><emergency cancel="true">X</emergency>'
    )
    return event_xml(own_uid, "b-a-o-can", detail, stale_s=10)


async def test_only_the_raiser_cancels_an_emergency(
    running_server: RunningServer, server_logs: pytest.LogCaptureFixture
) -> None:
    router = running_server.server.context.router
    alert_uid = "UID-VICTIM-9-1-1"
    assert running_server.ports.api_plain is not None
    async with ClientPool(running_server.ports.tcp) as pool:
        bystander = await connect_bystander(pool)
        victim = await connect_bystander(pool)
        attacker = await connect_bystander(pool)
        await victim.send(pli_xml("UID-VICTIM", "VICTIM"))
        await attacker.send(pli_xml("ATTACK-DEVICE", "ATTACKER"))
        await victim.send(alert_xml("UID-VICTIM", "VICTIM"))
        await bystander.receive(has_uid(alert_uid))

        await attacker.send(linked_cancel("ATTACK-CANCEL", "UID-VICTIM"))
        await attacker.send(event_xml(alert_uid, "b-a-o-can", '<emergency cancel="true">X</emergency>'))
        async with httpx.AsyncClient(base_url=f"http://{HOST}:{running_server.ports.api_plain}") as client:
            answer = await client.post("/Marti/api/cot", content=linked_cancel("ATTACK-REST", "UID-VICTIM"))
        assert answer.json()["delivered"] == 0
        await eventually(lambda: counter(running_server, "alert_cancel_refused") == 3)
        assert alert_uid in router.cache
        assert len(router.alerts) == 1

        router.tick(int(time.time() * 1000) + 60_000)  # the repetition is still due
        repeat = await bystander.receive(lambda m: m.uid == alert_uid and m.type == "b-a-o-tbl")
        assert repeat.time_ms > 0
        await victim.send(linked_cancel("UID-VICTIM-cancel", "UID-VICTIM"))
        await bystander.receive(has_uid("UID-VICTIM-cancel"))
    assert not bystander.seen(lambda m: m.uid.startswith("ATTACK-") and m.type == "b-a-o-can")
    assert len(router.alerts) == 0
    assert alert_uid not in router.cache
    assert logged(server_logs, "was raised by another")


# Situation-cache flood (issue item 9)


async def test_cache_flood_from_one_group_keeps_another_groups_picture(
    tls_server: RunningServer, pki: PkiFixture, server_logs: pytest.LogCaptureFixture
) -> None:
    cache = tls_server.server.context.router.cache
    cache.max_entries, cache.max_per_group, cache.max_per_owner = 60, 40, 1000
    victim, attacker = pki.add_user("carol", "blue"), pki.add_user("mallory", "red")
    late_blue, late_red = pki.add_user("bea", "blue"), pki.add_user("rex", "red")
    async with TlsClients(tls_server, pki) as clients:
        blue = await clients.connect(victim)
        red = await clients.connect(attacker)
        for n in range(5):
            await blue.send(marker_xml(f"BLUE-{n}", "CAROL-1"))
        await eventually(lambda: len(cache) == 5)
        await red.send_raw(b"".join(marker_xml(f"ATTACK-{n}", "MALLORY-1") for n in range(100)))
        await eventually(lambda: tls_server.server.context.counters.get("cache_refused") == 60)
        bea = await clients.connect(late_blue)
        rex = await clients.connect(late_red)
    assert [m.uid for m in bea.history if m.uid.startswith("BLUE-")] == [f"BLUE-{n}" for n in range(5)]
    assert len([m for m in rex.history if m.uid.startswith("ATTACK-")]) == 40
    assert logged(server_logs, "its share of the situation cache is full")


# Look-alike callsigns (issue item 10)


@pytest.mark.parametrize("look_alike", ["\u0410LPHA", "AL\u200bPHA"], ids=["cyrillic_a", "zero_width_space"])
async def test_look_alike_callsign_of_another_identity_is_refused(
    tls_server: RunningServer, pki: PkiFixture, server_logs: pytest.LogCaptureFixture, look_alike: str
) -> None:
    alice, mallory, bob = (
        pki.add_user("alice", "ops"),
        pki.add_user("mallory", "ops"),
        pki.add_user("bob", "ops"),
    )
    counters = tls_server.server.context.counters
    async with TlsClients(tls_server, pki) as clients:
        a, m, bystander = (
            await clients.connect(alice),
            await clients.connect(mallory),
            await clients.connect(bob),
        )
        await a.send(pli_xml("ALICE-1", "ALPHA"))
        await bystander.receive(has_uid("ALICE-1"))
        await m.send(pli_xml("ATTACK-1", look_alike))
        await eventually(lambda: counters.get("spoofing_refused") == 1)
        await a.send(pli_xml("ALICE-1", "ALPHA", lat=7.5))
        moved = await bystander.receive(lambda msg: msg.uid == "ALICE-1" and msg.lat == 7.5)
    assert moved.callsign == "ALPHA"
    assert not bystander.seen(has_uid("ATTACK-1"))
    assert logged(server_logs, f"callsign {look_alike!r} belongs to alice")


# isolate_teams (issue item 12)


def team_pli(uid: str, team: str, *, lat: float = 1.5) -> bytes:
    detail = f'<contact callsign="{uid}" endpoint="*:-1:stcp"/><__group name="{team}" role="Team Member"/>'
    return event_xml(uid, "a-f-G-U-C", detail, lat=lat)


async def test_isolated_team_comes_from_the_first_report_not_each_message(
    running_server: RunningServer, server_logs: pytest.LogCaptureFixture
) -> None:
    router = running_server.server.context.router
    router.teams.isolate = True
    async with ClientPool(running_server.ports.tcp) as pool:
        red, blue, blue_peer, attacker = [await connect_bystander(pool) for _ in range(4)]
        await red.send(team_pli("UID-RED", "Red"))
        await blue.send(team_pli("UID-BLUE", "Blue"))
        await blue_peer.send(team_pli("UID-BLUE-2", "Blue"))
        await blue.receive(has_uid("UID-BLUE-2"))
        await attacker.send(team_pli("ATTACK-ME", "Red"))
        await red.receive(has_uid("ATTACK-ME"))
        await attacker.send(team_pli("ATTACK-ME", "Blue", lat=6.5))  # walks into Blue
        await eventually(lambda: counter(running_server, "team_change_refused") == 1)
        await blue_peer.send(team_pli("UID-BLUE-2", "Blue", lat=6.25))
        await blue.receive(lambda m: m.uid == "UID-BLUE-2" and m.lat == 6.25)
        await red.receive(lambda m: m.uid == "ATTACK-ME" and m.lat == 6.5)  # still routed as Red
        await red.send(team_pli("UID-RED", "Red", lat=6.75))
        await attacker.receive(lambda m: m.uid == "UID-RED" and m.lat == 6.75)
    assert not blue.seen(has_uid("ATTACK-ME"))
    assert not attacker.seen(lambda m: m.uid.startswith("UID-BLUE"))
    assert logged(server_logs, "claims team 'Blue'; it stays in 'Red'")


# Half-done TLS handshakes (issue item 8, streaming port; the accept loop is shared with 8443)


class HalfOpen:
    """TCP connections from one loopback address that never finish (or start) a TLS handshake."""

    def __init__(self, port: int, host: str) -> None:
        self.port, self.host = port, host
        self.streams: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def open(self, count: int) -> None:
        for _ in range(count):
            stream = await asyncio.open_connection(HOST, self.port, local_addr=(self.host, 0))
            stream[1].write(b"\x16\x03\x01")  # the first bytes of a ClientHello, and no more
            self.streams.append(stream)

    def close(self) -> None:
        for _, writer in self.streams:
            writer.close()


def refused_handshakes(server: RunningServer, reason: str) -> int:
    return counter(server, f"handshake_refused{{reason={reason}}}")


def pending_handshakes(server: RunningServer) -> int:
    listener = server.server._tls
    assert listener is not None
    return len(listener._acceptor._handshakes)


async def test_half_done_handshakes_from_one_address_leave_the_port_open(
    tls_server: RunningServer, pki: PkiFixture, server_logs: pytest.LogCaptureFixture
) -> None:
    assert tls_server.ports.tls is not None
    alice, bob = pki.add_user("alice", "ops"), pki.add_user("bob", "ops")
    flood = HalfOpen(tls_server.ports.tls, "127.0.0.2")
    try:
        async with TlsClients(tls_server, pki) as clients:
            bystander = await clients.connect(alice)
            await flood.open(MAX_PENDING_PER_ADDRESS + 20)
            await eventually(lambda: refused_handshakes(tls_server, "address_busy") == 20)
            newcomer = await clients.connect(bob)  # from 127.0.0.1: let in at once
            await newcomer.send(pli_xml("BOB-1", "BOB", lat=8.5))
            seen = await bystander.receive(has_uid("BOB-1"))
        assert seen.lat == 8.5
        assert pending_handshakes(tls_server) == MAX_PENDING_PER_ADDRESS
    finally:
        flood.close()
    assert logged(server_logs, "refused: address_busy")


async def test_when_every_handshake_slot_is_taken_a_new_client_evicts_the_busiest_address(
    tls_server: RunningServer,
    pki: PkiFixture,
    server_logs: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert tls_server.ports.tls is not None
    monkeypatch.setattr(handshake, "MAX_PENDING_HANDSHAKES", 8)
    monkeypatch.setattr(handshake, "MAX_PENDING_PER_ADDRESS", 5)
    alice, bob = pki.add_user("alice", "ops"), pki.add_user("bob", "ops")
    big, small = HalfOpen(tls_server.ports.tls, "127.0.0.2"), HalfOpen(tls_server.ports.tls, "127.0.0.3")
    try:
        async with TlsClients(tls_server, pki) as clients:
            bystander = await clients.connect(alice)
            await big.open(5)
            await small.open(3)
            await eventually(lambda: pending_handshakes(tls_server) == 8)
            newcomer = await clients.connect(bob)
            evicted_reader = big.streams[0][0]
            assert await asyncio.wait_for(evicted_reader.read(), 30) == b""  # closed by the server
            await newcomer.send(pli_xml("BOB-1", "BOB", lat=8.75))
            seen = await bystander.receive(has_uid("BOB-1"))
        assert seen.lat == 8.75
        assert refused_handshakes(tls_server, "evicted") == 1
        assert refused_handshakes(tls_server, "busy") == 0
    finally:
        big.close()
        small.close()
    assert logged(server_logs, "refused: evicted")


# Audit amplification (issue item 14)


def handshakes_refused(server: RunningServer) -> int:
    counters = server.server.context.counters.snapshot()
    return sum(value for name, value in counters.items() if name.startswith("handshake_refused"))


def audit_entries(pki: PkiFixture, kind: str) -> list[dict[str, object]]:
    path = pki.data_dir / "audit.log"
    assert verify_audit_log(path).ok
    entries = [json.loads(line) for line in path.read_text().splitlines()]
    return [entry for entry in entries if entry["kind"] == kind]


async def test_connect_and_close_flood_is_audited_as_a_summary(
    tls_server: RunningServer, pki: PkiFixture, server_logs: pytest.LogCaptureFixture
) -> None:
    assert tls_server.ports.tls is not None
    context = tls_server.server.context
    clock = ManualClock()
    context.clock = clock
    flood = 200
    alice, bob = pki.add_user("alice", "ops"), pki.add_user("bob", "ops")
    async with TlsClients(tls_server, pki) as clients:
        bystander = await clients.connect(alice)
        for _ in range(flood):
            _, writer = await asyncio.open_connection(HOST, tls_server.ports.tls, local_addr=("127.0.0.2", 0))
            writer.close()
        await eventually(lambda: handshakes_refused(tls_server) == flood)
        clock.advance(DEFAULT_WINDOW_S)
        context.flush_refusals()
        newcomer = await clients.connect(bob)
        await newcomer.send(pli_xml("BOB-1", "BOB", lat=9.5))
        seen = await bystander.receive(has_uid("BOB-1"))
    assert seen.lat == 9.5
    full = [e for e in audit_entries(pki, "handshake_refused") if str(e["address"]).startswith("127.0.0.2:")]
    assert len(full) == DEFAULT_FULL_ENTRIES
    (summary,) = audit_entries(pki, "handshake_refused_summary")
    assert (summary["address"], summary["suppressed"]) == ("127.0.0.2", flood - DEFAULT_FULL_ENTRIES)
    assert context.counters.get("audit_summarised") == flood - DEFAULT_FULL_ENTRIES
    assert logged(server_logs, f"{flood - DEFAULT_FULL_ENTRIES} more handshake_refused from 127.0.0.2")


async def test_auth_flood_is_counted_and_logged_once(
    running_server: RunningServer, server_logs: pytest.LogCaptureFixture
) -> None:
    auth = b'<auth><cot username="u" password="p" uid="x"/></auth>'
    async with ClientPool(running_server.ports.tcp) as pool:
        bystander = await connect_bystander(pool)
        attacker = await connect_bystander(pool)
        await attacker.send_raw(auth * 5000)
        await eventually(lambda: counter(running_server, "auth_messages_ignored") == 5000)
        await assert_still_served(pool, bystander)
    lines = [r for r in server_logs.records if "sent <auth>" in r.getMessage()]
    assert len(lines) == 1

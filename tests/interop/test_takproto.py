"""Interop with PyPI ``takproto``: negotiated clients that encode with ``xml2proto(..., STREAM)``
and decode with ``parse_proto`` (reference §2.2, §2.3, §5.3 to §5.9).

Each client negotiates TAK protocol v1 first, so everything it sends and receives after the
switch is a stream frame built or read by takproto, not by the server's own codec.
"""

import time

import takproto

from tests.conftest import RunningServer
from tests.interop.clients import (
    ClientPool,
    Message,
    TakClient,
    chat_xml,
    delete_xml,
    event_xml,
    has_type,
    has_uid,
    marker_xml,
    ping_xml,
    pli_xml,
    sync,
)


async def _announce(client: TakClient, uid: str, callsign: str, *observers: TakClient) -> None:
    """Send a position report and wait until every observer has it (the server has bound it)."""
    await client.send(pli_xml(uid, callsign))
    for observer in observers:
        await observer.receive(has_uid(uid))


def _is_chat(message: Message) -> bool:
    return message.type.startswith("b-t-f")


async def test_directed_message_reaches_only_the_named_client_without_marti(
    running_server: RunningServer,
) -> None:
    async with ClientPool(running_server.ports.tcp) as pool:
        alpha = await pool.connect("alpha", negotiate=True)
        bravo = await pool.connect("bravo", negotiate=True)
        charlie = await pool.connect("charlie", negotiate=True)
        await _announce(bravo, "UID-BRAVO", "BRAVO", alpha, charlie)
        await _announce(charlie, "UID-CHARLIE", "CHARLIE", alpha, bravo)

        chat = chat_xml("UID-ALPHA", "ALPHA", "eyes only", to_callsign="BRAVO", to_uid="UID-BRAVO")
        assert b"<marti>" in chat
        await alpha.send(chat)
        received = await bravo.receive(_is_chat)
        await sync(alpha, bravo, charlie)
        await sync(bravo, alpha)

    assert received.protobuf
    assert received.type == "b-t-f"
    assert "marti" not in received.detail, "the server consumes <marti> (reference §5.3)"
    detail = received.detail_element()
    chat_envelope = detail.find("__chat")
    assert chat_envelope is not None
    assert chat_envelope.get("chatroom") == "BRAVO"
    assert detail.findtext("remarks") == "eyes only"
    assert not charlie.seen(_is_chat)
    assert not alpha.seen(_is_chat), "delivered chat must not bounce (b-t-f-s) to its sender"


async def test_geochat_to_all_chat_rooms_reaches_everyone(running_server: RunningServer) -> None:
    async with ClientPool(running_server.ports.tcp) as pool:
        alpha = await pool.connect("alpha", negotiate=True)
        others = [await pool.connect(name, negotiate=True) for name in ("bravo", "charlie", "delta")]
        xml_client = await pool.connect("xml")
        await xml_client.receive(has_type("t-x-takp-v"))

        await alpha.send(chat_xml("UID-ALPHA", "ALPHA", "hello all"))
        copies = [await client.receive(_is_chat) for client in [*others, xml_client]]
        await sync(others[0], alpha)

    for copy in copies[:-1]:
        assert copy.protobuf
        assert copy.detail_element().findtext("remarks") == "hello all"
    assert not copies[-1].protobuf
    assert copies[-1].detail_element().findtext("remarks") == "hello all"
    assert len({copy.uid for copy in copies}) == 1
    assert not alpha.seen(_is_chat), "the sender does not get its own broadcast back"


async def test_sa_replay_to_a_late_joiner(running_server: RunningServer) -> None:
    async with ClientPool(running_server.ports.tcp) as pool:
        alpha = await pool.connect("alpha", negotiate=True)
        bravo = await pool.connect("bravo", negotiate=True)
        await alpha.send(pli_xml("UID-ALPHA", "ALPHA", lat=10.0, lon=20.0))
        await bravo.receive(has_uid("UID-ALPHA"))

        late = await pool.connect("late")
        replay = await late.receive_until_offer()
        await late.negotiate()
        await alpha.send(pli_xml("UID-ALPHA", "ALPHA", lat=10.5, lon=20.5))
        update = await late.receive(has_uid("UID-ALPHA"))

    # The replay precedes the offer (TAK Server's order, reference §2.3 and §5.7), so it is XML.
    assert [(m.uid, m.protobuf) for m in replay] == [("UID-ALPHA", False)]
    assert (replay[0].callsign, replay[0].lat, replay[0].lon) == ("ALPHA", 10.0, 20.0)
    assert update.protobuf
    assert (update.callsign, update.lat, update.lon) == ("ALPHA", 10.5, 20.5)


async def test_delete_removes_an_item_from_the_replay(running_server: RunningServer) -> None:
    cache = running_server.server.context.router.cache
    async with ClientPool(running_server.ports.tcp) as pool:
        alpha = await pool.connect("alpha", negotiate=True)
        bravo = await pool.connect("bravo", negotiate=True)
        await alpha.send(pli_xml("UID-ALPHA", "ALPHA"))
        await alpha.send(marker_xml("MARKER-1", "UID-ALPHA"))
        await alpha.send(marker_xml("MARKER-2", "UID-ALPHA"))
        await bravo.receive(has_uid("MARKER-2"))
        assert "MARKER-1" in cache

        await alpha.send(delete_xml("MARKER-1"))
        delete = await bravo.receive(has_type("t-x-d-d"))
        late = await pool.connect("late")
        replay = await late.receive_until_offer()

    assert delete.protobuf
    link = delete.detail_element().find("link")
    assert link is not None
    assert link.get("uid") == "MARKER-1"
    assert "MARKER-1" not in cache
    assert sorted(m.uid for m in replay) == ["MARKER-2", "UID-ALPHA"]


async def test_ping_is_answered_to_that_connection_only_in_its_format(running_server: RunningServer) -> None:
    async with ClientPool(running_server.ports.tcp) as pool:
        framed = await pool.connect("framed", negotiate=True)
        plain = await pool.connect("plain")
        observer = await pool.connect("observer", negotiate=True)
        await plain.receive(has_type("t-x-takp-v"))

        await framed.send(ping_xml("UID-FRAMED"))
        framed_pong = await framed.receive(has_type("t-x-c-t-r"))
        await plain.send(ping_xml("UID-PLAIN"))
        plain_pong = await plain.receive(has_type("t-x-c-t-r"))
        await sync(framed, observer, plain)
        await sync(plain, observer, framed)

    assert framed_pong.protobuf
    assert framed_pong.takmessage is not None
    assert framed_pong.uid == "takPong"
    assert not plain_pong.protobuf
    assert plain_pong.raw.startswith(b"<event")
    for client in (framed, plain, observer):
        assert not client.seen(has_type("t-x-c-t")), "pings are never routed"
    assert not observer.seen(has_type("t-x-c-t-r"))
    assert len(framed.seen(has_type("t-x-c-t-r"))) == 1
    assert len(plain.seen(has_type("t-x-c-t-r"))) == 1


async def test_frames_sent_right_behind_the_request_are_accepted(running_server: RunningServer) -> None:
    """A client that writes its request and its first frame in one go loses nothing."""
    async with ClientPool(running_server.ports.tcp) as pool:
        eager = await pool.connect("eager")
        observer = await pool.connect("observer", negotiate=True)
        offer = await eager.receive(has_type("t-x-takp-v"))
        request = event_xml(offer.uid, "t-x-takp-q", '<TakControl><TakRequest version="1"/></TakControl>')
        first_frame = bytes(takproto.xml2proto(pli_xml("UID-EAGER", "EAGER"), takproto.TAKProtoVer.STREAM))
        await eager.send_raw(request + first_frame)
        report = await observer.receive(has_uid("UID-EAGER"))
        response = await eager.receive(has_type("t-x-takp-r"))

    assert report.protobuf
    assert report.callsign == "EAGER"
    assert not response.protobuf
    assert running_server.server.context.counters.get("events_in{transport=tcp,format=protobuf}") >= 1


async def test_undeliverable_chat_bounces_to_the_sender_as_a_frame(running_server: RunningServer) -> None:
    async with ClientPool(running_server.ports.tcp) as pool:
        alpha = await pool.connect("alpha", negotiate=True)
        await alpha.send(chat_xml("UID-ALPHA", "ALPHA", "hello?", to_callsign="NOBODY", to_uid="UID-NOBODY"))
        bounce = await alpha.receive(_is_chat)

    assert bounce.protobuf
    assert bounce.type == "b-t-f-s"
    assert bounce.uid.startswith("GeoChat.UID-ALPHA.NOBODY.")
    assert "marti" not in bounce.detail


async def test_times_in_microseconds_from_a_load_tool_are_routed_in_milliseconds(
    running_server: RunningServer,
) -> None:
    now_us = int(time.time() * 1_000_000)
    message = takproto.proto.TakMessage()
    event = message.cotEvent
    event.type, event.uid, event.how = "a-f-G-U-C", "LOAD-1", "m-g"
    event.sendTime, event.startTime, event.staleTime = now_us, now_us, now_us + 300_000_000
    event.lat, event.lon, event.hae, event.ce, event.le = 1.5, 2.5, 10.0, 5.0, 9999999.0
    async with ClientPool(running_server.ports.tcp) as pool:
        load = await pool.connect("load-tool", negotiate=True)
        viewer = await pool.connect("viewer")
        await viewer.receive(has_type("t-x-takp-v"))
        await load.send_raw(bytes(takproto.functions.msg2proto(message, takproto.TAKProtoVer.STREAM)))
        seen = await viewer.receive(has_uid("LOAD-1"))
    assert not seen.protobuf
    expected = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now_us // 1_000_000))
    assert f'time="{expected}'.encode() in seen.raw, "read as microseconds: the XML time is now"
    entry = running_server.server.context.router.cache.get("LOAD-1")
    assert entry is not None
    assert entry.message.event.stale == (now_us + 300_000_000) // 1000

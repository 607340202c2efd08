"""Interop with PyPI ``pytak``: independent TAK clients on the plain TCP port (reference §2.3, §5.1).

pytak is driven the way its own CLI drives it: a ``CLITool`` built from a config section,
whose TX worker writes what is put on ``tx_queue`` and whose RX worker puts every
``...</event>`` it reads on ``rx_queue``. With ``TAK_PROTO=1`` pytak converts everything
it sends to stream frames without negotiating first; the server must accept them.
"""

from tests.conftest import RunningServer
from tests.interop.clients import (
    ClientPool,
    eventually,
    has_type,
    has_uid,
    ping_xml,
    pli_xml,
    sync,
)
from tests.interop.pytak_tools import pytak_client, pytak_pli, pytak_until, uid_is


async def test_xml_pytak_clients_exchange_a_pli(running_server: RunningServer) -> None:
    port = running_server.ports.tcp
    counters = running_server.server.context.counters
    async with pytak_client(port, "pytak-rx") as receiver:
        await pytak_until(receiver, lambda e: e.get("type") == "t-x-takp-v")
        async with pytak_client(port, "pytak-tx", hello=True) as sender:
            await sender.tx_queue.put(pytak_pli("PYTAK-TX", "PYTAK SENDER"))
            seen = await pytak_until(receiver, uid_is("PYTAK-TX"))

    pli = seen[-1]
    assert pli.get("type") == "a-f-G-U-C"
    point = pli.find("point")
    assert point is not None
    assert (point.get("lat"), point.get("lon")) == ("40.7128", "-74.006")
    assert pli.find("detail/contact").get("callsign") == "PYTAK SENDER"  # type: ignore[union-attr]
    assert pli.find("detail/_flow-tags_") is not None, "unknown detail elements must be relayed verbatim"
    # pytak's hello is a t-x-d-d without a link (reference §5.1): consumed, never routed.
    assert [e.get("type") for e in seen[:-1]] == []
    assert counters.get("events_in{transport=tcp,format=xml}") == 2


async def test_protobuf_pytak_sends_frames_without_negotiating(running_server: RunningServer) -> None:
    port = running_server.ports.tcp
    counters = running_server.server.context.counters
    async with ClientPool(port) as pool, pytak_client(port, "pytak-xml-rx") as pytak_receiver:
        raw_receiver = await pool.connect("raw-xml-rx")
        await raw_receiver.receive(has_type("t-x-takp-v"))
        await pytak_until(pytak_receiver, lambda e: e.get("type") == "t-x-takp-v")
        async with pytak_client(port, "pytak-proto-tx", tak_proto=1, hello=True) as sender:
            await sender.tx_queue.put(pli_xml("PYTAK-PROTO", "PROTO SENDER", lat=-33.8688, lon=151.2093))
            raw = await raw_receiver.receive(has_uid("PYTAK-PROTO"))
            via_pytak = await pytak_until(pytak_receiver, uid_is("PYTAK-PROTO"))
            # The connection survives: a second frame is routed too.
            await sender.tx_queue.put(pli_xml("PYTAK-PROTO", "PROTO SENDER", lat=-33.0, lon=151.0))
            second = await raw_receiver.receive(has_uid("PYTAK-PROTO"))

    assert not raw.protobuf, "a client that never negotiated must receive XML"
    assert raw.raw.startswith(b"<event")
    assert (raw.type, raw.callsign, raw.lat, raw.lon) == ("a-f-G-U-C", "PROTO SENDER", -33.8688, 151.2093)
    assert (second.lat, second.lon) == (-33.0, 151.0)
    assert via_pytak[-1].find("detail/contact").get("callsign") == "PROTO SENDER"  # type: ignore[union-attr]
    assert [m.type for m in raw_receiver.history] == ["t-x-takp-v", "a-f-G-U-C", "a-f-G-U-C"]
    assert counters.get("events_in{transport=tcp,format=protobuf}") == 3  # hello + two reports
    assert counters.get("events_in{transport=tcp,format=xml}") == 0


async def test_negotiated_client_gets_frames_while_xml_clients_get_xml(running_server: RunningServer) -> None:
    port = running_server.ports.tcp
    async with ClientPool(port) as pool, pytak_client(port, "pytak-xml") as pytak_xml:
        await pytak_until(pytak_xml, lambda e: e.get("type") == "t-x-takp-v")
        negotiated = await pool.connect("negotiated", negotiate=True)
        observer = await pool.connect("xml-observer")

        await pytak_xml.tx_queue.put(pytak_pli("PYTAK-XML", "PYTAK XML"))
        framed = await negotiated.receive(has_uid("PYTAK-XML"))
        plain = await observer.receive(has_uid("PYTAK-XML"))

        await negotiated.send(pli_xml("NEGOTIATED", "NEGOTIATED", lat=51.5, lon=-0.12))
        from_negotiated = await pytak_until(pytak_xml, uid_is("NEGOTIATED"))
        plain_from_negotiated = await observer.receive(has_uid("NEGOTIATED"))

        await negotiated.send(ping_xml("NEGOTIATED"))
        pong = await negotiated.receive(has_type("t-x-c-t-r"))
        await sync(negotiated, observer)

    assert framed.protobuf
    assert framed.raw[0] == 0xBF
    takmessage = framed.takmessage
    assert takmessage is not None
    assert takmessage.cotEvent.type == "a-f-G-U-C"  # type: ignore[attr-defined]
    assert framed.callsign == "PYTAK XML"
    assert (framed.lat, framed.lon) == (40.7128, -74.006)
    assert "_flow-tags_" in framed.detail
    assert not plain.protobuf
    assert plain.callsign == "PYTAK XML"

    pli = from_negotiated[-1]
    assert pli.find("detail/contact").get("callsign") == "NEGOTIATED"  # type: ignore[union-attr]
    assert (pli.find("point").get("lat"), pli.find("point").get("lon")) == ("51.5", "-0.12")  # type: ignore[union-attr]
    assert not plain_from_negotiated.protobuf
    assert pong.protobuf, "after the switch the server must send frames only, pongs included (§2.3 rule 8)"

    response_at = next(i for i, m in enumerate(negotiated.history) if m.type == "t-x-takp-r")
    assert all(m.protobuf for m in negotiated.history[response_at + 1 :])
    assert all(not m.protobuf for m in observer.history)
    assert not observer.seen(has_type("t-x-c-t-r")), "a pong goes to the pinging connection only"


async def test_pytak_client_reconnecting_is_served_again(running_server: RunningServer) -> None:
    """pytak reconnects with a new socket; the server serves the second connection like the first."""
    port = running_server.ports.tcp
    async with ClientPool(port) as pool:
        observer = await pool.connect("observer")
        await observer.receive(has_type("t-x-takp-v"))
        for attempt in range(2):
            async with pytak_client(port, f"pytak-{attempt}", hello=True) as sender:
                await sender.tx_queue.put(pytak_pli("PYTAK-RECONNECT", f"ATTEMPT {attempt}"))
                message = await observer.receive(has_uid("PYTAK-RECONNECT"))
                assert message.callsign == f"ATTEMPT {attempt}"
        await eventually(lambda: len(running_server.server.context.connections) == 1)

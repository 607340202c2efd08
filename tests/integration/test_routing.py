"""Routing through a real server with raw asyncio socket clients (reference §5.3 to §5.10).

Clients are XML (they never negotiate). Waits are bounded and driven by what the clients
receive or by polling server state; "did not receive" is proven with a :func:`sync` marker
sent after the message in question.
"""

import re

import pytest

from rallypoint.server import server as server_module
from rallypoint.transport.context import wall_clock_ms
from tests.conftest import RunningServer, fixture_bytes
from tests.interop.clients import (
    ClientPool,
    Message,
    TakClient,
    chat_xml,
    cot_time,
    event_xml,
    eventually,
    has_type,
    has_uid,
    marker_xml,
    ping_xml,
    pli_xml,
    sync,
)

FAST_TICK_S = 0.02
SHORT_STALE_S = 60
"""A stale time no loaded machine reaches while the test runs; the test moves time past it."""


@pytest.fixture(autouse=True)
def fast_tick(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the server's periodic tick (expiry, alert repeats) every 20 ms instead of every second."""
    monkeypatch.setattr(server_module, "TICK_INTERVAL_S", FAST_TICK_S)


def _is_chat(message: Message) -> bool:
    return message.type.startswith("b-t-f")


async def _announce(client: TakClient, uid: str, callsign: str, *observers: TakClient) -> None:
    """Send a position report and wait until every observer has it (so the server has bound it)."""
    await client.send(pli_xml(uid, callsign))
    for observer in observers:
        await observer.receive(has_uid(uid))


# SA replay and the disconnect delete (§5.7, §5.8)


async def test_late_joiner_gets_the_current_picture_but_nothing_stale(running_server: RunningServer) -> None:
    cache = running_server.server.context.router.cache
    async with ClientPool(running_server.ports.tcp) as pool:
        alpha = await pool.connect("alpha")
        bravo = await pool.connect("bravo")
        await alpha.send(pli_xml("UID-ALPHA", "ALPHA"))
        await alpha.send(marker_xml("MARKER-LONG", "UID-ALPHA"))
        await alpha.send(marker_xml("MARKER-ALREADY-STALE", "UID-ALPHA", stale_s=-60))
        await alpha.send(marker_xml("MARKER-SHORT", "UID-ALPHA", stale_s=SHORT_STALE_S))
        await alpha.send(chat_xml("UID-ALPHA", "ALPHA", "chat is not replayed"))
        await sync(alpha, bravo)
        # A stale event that arrives is still routed (reference §1.4) but never cached.
        assert bravo.seen(has_uid("MARKER-ALREADY-STALE"))
        assert "MARKER-ALREADY-STALE" not in cache
        assert "MARKER-SHORT" in cache
        # The server's tick, run at a time past the short marker's stale (instead of waiting for it).
        running_server.server.context.router.tick(wall_clock_ms() + 2 * SHORT_STALE_S * 1000)
        assert "MARKER-SHORT" not in cache

        late = await pool.connect("late")
        replay = await late.receive_until_offer()

    assert sorted(m.uid for m in replay) == ["MARKER-LONG", "UID-ALPHA"]
    assert running_server.server.context.counters.get("cache_expired") >= 1


async def test_disconnect_sends_a_delete_linking_to_the_departed_client(
    running_server: RunningServer,
) -> None:
    router = running_server.server.context.router
    async with ClientPool(running_server.ports.tcp) as pool:
        alpha = await pool.connect("alpha")
        bravo = await pool.connect("bravo")
        await alpha.send(pli_xml("UID-ALPHA", "ALPHA").replace(b"a-f-G-U-C", b"a-f-G-U-C-I", 1))
        await bravo.receive(has_uid("UID-ALPHA"))
        assert router.registry.by_uid("UID-ALPHA") is not None

        await alpha.close()
        delete = await bravo.receive(has_type("t-x-d-d"))
        late = await pool.connect("late")
        replay = await late.receive_until_offer()

    link = delete.detail_element().find("link")
    assert link is not None
    assert link.attrib == {"uid": "UID-ALPHA", "type": "a-f-G-U-C-I", "relation": "p-p"}
    assert delete.uid != "UID-ALPHA"
    assert router.registry.by_uid("UID-ALPHA") is None
    assert "UID-ALPHA" not in router.cache
    assert replay == []


# Directed delivery and GeoChat (§5.3, §5.5)


async def test_chat_directed_by_callsign_reaches_only_that_client(running_server: RunningServer) -> None:
    async with ClientPool(running_server.ports.tcp) as pool:
        alpha, bravo, charlie = [await pool.connect(name) for name in ("alpha", "bravo", "charlie")]
        await _announce(bravo, "UID-BRAVO", "BRAVO", alpha, charlie)
        await _announce(charlie, "UID-CHARLIE", "CHARLIE", alpha, bravo)

        await alpha.send(chat_xml("UID-ALPHA", "ALPHA", "for bravo", to_callsign="BRAVO", to_uid="UID-BRAVO"))
        chat = await bravo.receive(_is_chat)
        await sync(alpha, bravo, charlie)
        await sync(bravo, alpha)

    assert chat.type == "b-t-f"
    assert b"marti" not in chat.raw
    assert chat.detail_element().findtext("remarks") == "for bravo"
    assert not charlie.seen(_is_chat)
    assert not alpha.seen(_is_chat)


async def test_directed_by_uid_reaches_only_that_client(running_server: RunningServer) -> None:
    async with ClientPool(running_server.ports.tcp) as pool:
        alpha, bravo, charlie = [await pool.connect(name) for name in ("alpha", "bravo", "charlie")]
        await _announce(bravo, "UID-BRAVO", "BRAVO", alpha, charlie)
        await _announce(charlie, "UID-CHARLIE", "CHARLIE", alpha, bravo)

        chat = chat_xml(
            "UID-ALPHA", "ALPHA", "for charlie", to_uid="UID-CHARLIE", marti='<dest uid="UID-CHARLIE"/>'
        )
        await alpha.send(chat)
        marker = marker_xml("MARKER-FOR-CHARLIE", "UID-ALPHA").replace(
            b"</detail>", b'<marti><dest uid="UID-CHARLIE"/></marti></detail>'
        )
        await alpha.send(marker)
        received = await charlie.receive(has_uid("MARKER-FOR-CHARLIE"))
        await sync(alpha, bravo, charlie)

    assert [m.type for m in charlie.seen(_is_chat)] == ["b-t-f"]
    assert b"marti" not in received.raw
    assert not bravo.seen(_is_chat)
    assert not bravo.seen(has_uid("MARKER-FOR-CHARLIE"))


async def test_undeliverable_chat_comes_back_as_delivery_failure(running_server: RunningServer) -> None:
    counters = running_server.server.context.counters
    async with ClientPool(running_server.ports.tcp) as pool:
        alpha = await pool.connect("alpha")
        bravo = await pool.connect("bravo")
        await _announce(bravo, "UID-BRAVO", "BRAVO", alpha)

        chat = chat_xml("UID-ALPHA", "ALPHA", "anyone?", to_callsign="NOBODY", to_uid="UID-NOBODY")
        await alpha.send(chat)
        failure = await alpha.receive(_is_chat)
        await sync(alpha, bravo)

    assert failure.type == "b-t-f-s"
    assert failure.uid.startswith("GeoChat.UID-ALPHA.NOBODY.")
    assert failure.detail_element().findtext("remarks") == "anyone?"
    assert not bravo.seen(_is_chat)
    assert counters.get("chat_undeliverable{reason=unknown_recipient}") == 1


# Emergencies (§5.10)


def _fresh_alert(data: bytes) -> bytes:
    """The recorded 911 alert with time/start now and stale in ten seconds (as ATAK sends it)."""
    now, stale = cot_time().encode(), cot_time(10).encode()
    data = re.sub(rb'(time|start)="[^"]*"', lambda m: m.group(1) + b'="' + now + b'"', data)
    return re.sub(rb'stale="[^"]*"', b'stale="' + stale + b'"', data)


class TickCounter:
    """Wraps the router's tick so a test can wait for "n more ticks" instead of sleeping."""

    def __init__(self, running_server: RunningServer) -> None:
        router = running_server.server.context.router
        self.count = 0
        original = router.tick

        def counted(now_ms: int) -> None:
            original(now_ms)
            self.count += 1

        router.tick = counted  # type: ignore[method-assign]

    async def wait(self, ticks: int) -> None:
        target = self.count + ticks
        await eventually(lambda: self.count >= target)


def _alerts(messages: list[Message]) -> list[Message]:
    return [m for m in messages if m.type == "b-a-o-tbl"]


def _atak_cancel(alert_uid: str, callsign: str) -> bytes:
    """What ATAK's EmergencyManager sends to cancel: same uid, ``b-a-o-can``, ``<emergency cancel>`` only."""
    return event_xml(
        alert_uid,
        "b-a-o-can",
        f'<emergency cancel="true">{callsign}</emergency>',
        how="h-g-i-g-o",
        stale_s=10,
    )


def _linked_cancel(device_uid: str, callsign: str) -> bytes:
    """A cancel with its own uid that names the alerting device in a ``p-p`` link.

    The server's AlertBoard explicitly accepts this form (it cancels every alert sharing a
    link uid with the cancel), so the rest of the server must treat it as a cancel too.
    """
    detail = (
        f'<link uid="{device_uid}" type="a-f-G-U-C" relation="p-p"/>'
        f'<emergency cancel="true">{callsign}</emergency>'
    )
    return event_xml(f"{device_uid}-cancel", "b-a-o-can", detail, how="h-g-i-g-o", stale_s=10)


@pytest.mark.parametrize("cancel_form", ["atak_same_uid", "own_uid_linked_to_device"])
async def test_emergency_repeats_and_replays_until_cancelled(
    running_server: RunningServer, cancel_form: str
) -> None:
    """A 911 alert is re-sent to existing clients and replayed to new ones until cancelled.

    Both cancel forms must stop the repetition *and* clear the replay cache: a cancel matched
    by its link once stopped the repeats but left the alert cached for ``lifetime_ms``.
    """
    router = running_server.server.context.router
    router.alerts.period_ms = 100
    ticks = TickCounter(running_server)
    alert_uid, device_uid = "16173334444-9-1-1", "ANDROID-358982072593830"
    async with ClientPool(running_server.ports.tcp) as pool:
        alpha = await pool.connect("alpha")
        bravo = await pool.connect("bravo")
        await bravo.receive(has_type("t-x-takp-v"))

        await alpha.send(_fresh_alert(fixture_bytes("emergency_911_alert.xml")))
        first = await bravo.receive(has_uid(alert_uid))
        repeats = [await bravo.receive(has_uid(alert_uid)) for _ in range(3)]

        charlie = await pool.connect("charlie")
        replay = await charlie.receive_until_offer()
        await charlie.receive(has_uid(alert_uid))  # and the repetitions reach it too

        if cancel_form == "atak_same_uid":
            await alpha.send(_atak_cancel(alert_uid, "BOB"))
        else:
            await alpha.send(_linked_cancel(device_uid, "BOB"))
        await bravo.receive(has_type("b-a-o-can"))
        cancelled_at = len(bravo.history)
        await ticks.wait(int(3 * router.alerts.period_ms / 1000 / FAST_TICK_S) + 1)
        await sync(alpha, bravo)
        delta = await pool.connect("delta")
        replay_after_cancel = await delta.receive_until_offer()

    assert first.time_ms < repeats[0].time_ms < repeats[1].time_ms < repeats[2].time_ms
    assert all(m.type == "b-a-o-tbl" and m.callsign == "BOB-Alert" for m in repeats)
    assert [m.uid for m in replay] == [alert_uid]
    assert not alpha.seen(has_uid(alert_uid)), "the sender is not sent its own alert"
    assert _alerts(bravo.history[cancelled_at:]) == [], "no repetition after the cancel"
    assert len(router.alerts) == 0
    assert [m.type for m in replay_after_cancel] == [], (
        "a cancelled alert must not be replayed to new clients"
    )
    assert alert_uid not in router.cache


# Control messages (§5.6, §2.3 rule 9)

CONTROL_TYPES = [
    "t-x-c-t",
    "t-x-c-t-r",
    "t-x-takp-v",
    "t-x-takp-q",
    "t-x-takp-r",
    "t-x-c-f",
    "t-x-c-m",
    "t-x-c-i-e",
    "t-x-c-i-d",
    "t-b",
    "t-b-a",
    "t-b-c",
    "t-b-q",
]


async def test_control_messages_are_never_routed_or_replayed(running_server: RunningServer) -> None:
    async with ClientPool(running_server.ports.tcp) as pool:
        alpha = await pool.connect("alpha")
        bravo = await pool.connect("bravo")
        await bravo.receive(has_type("t-x-takp-v"))
        for cot_type in CONTROL_TYPES:
            detail = '<TakControl><TakRequest version="9"/></TakControl>' if cot_type == "t-x-takp-q" else ""
            await alpha.send(event_xml(f"control-{cot_type}", cot_type, detail))
        await alpha.send(ping_xml("UID-ALPHA"))
        await sync(alpha, bravo)
        await sync(bravo, alpha)  # alpha reads its answers, which were queued before bravo's marker
        late = await pool.connect("late")
        replay = await late.receive_until_offer()
        await sync(alpha, late)

    assert [m.type for m in bravo.history] == ["t-x-takp-v", "b-x-sync"]
    assert replay == []
    # The sender gets the connection-local answers only: two pongs, and "false" for version 9.
    answers = [m.type for m in alpha.history if m.type in {"t-x-c-t-r", "t-x-takp-r"}]
    assert sorted(answers) == ["t-x-c-t-r", "t-x-c-t-r", "t-x-takp-r"]
    response = alpha.seen(has_type("t-x-takp-r"))[0].detail_element().find("TakControl/TakResponse")
    assert response is not None
    assert response.get("status") == "false"
    assert not any(m.protobuf for m in alpha.history), "a refused request keeps the connection on XML"

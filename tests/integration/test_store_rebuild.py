"""The situation cache rebuilt from a store at start: what comes back, to whom, and what not."""

from pathlib import Path

from rallypoint.cot.xml import DEFAULT_LIMITS, parse_event
from rallypoint.router.message import Outbound
from rallypoint.router.registry import Subscriber
from rallypoint.router.router import Router
from rallypoint.server.persistence import rebuild_cache
from rallypoint.store import StoredEvent, open_store
from tests.interop.clients import chat_xml, delete_xml, marker_xml, pli_xml


def stored(data: bytes, groups: frozenset[str] = frozenset({"Cyan"})) -> StoredEvent:
    event = parse_event(data)
    point = event.point
    return StoredEvent(
        event.uid, event.type, event.time, event.stale, point.lat, point.lon, point.hae, groups, None, data
    )


async def test_rebuild_restores_the_latest_picture_with_its_groups(tmp_path: Path) -> None:
    store = open_store(f"sqlite://{tmp_path / 'store.sqlite3'}")
    await store.open()
    kept, red_only = marker_xml("kept", "dev-1"), pli_xml("dev-2", "Bravo")
    deleted = marker_xml("deleted", "dev-1")
    events = [
        stored(kept),
        stored(red_only, frozenset({"Red"})),
        stored(deleted),
        stored(delete_xml("deleted")),
        stored(chat_xml("dev-1", "Alpha", "hello")),  # chat is history, not picture
        stored(marker_xml("expired", "dev-1", stale_s=-5)),
        stored(marker_xml("directed", "dev-1"), frozenset()),  # stored by the recorder for marti/dest
    ]
    for event in events:
        store.record(event)
    await store.flush()
    router = Router()
    now_ms = parse_event(kept).time + 1000
    try:
        assert await rebuild_cache(router, store, now_ms, DEFAULT_LIMITS) == 2
    finally:
        await store.close()
    cyan = Subscriber(lambda: None, transport="tcp", in_groups=("Cyan",), out_groups=("Cyan",))
    red = Subscriber(lambda: None, transport="tcp", in_groups=("Red",), out_groups=("Red",))
    router.attach(cyan, now_ms)
    router.attach(red, now_ms)
    assert [m.event.uid for m in cyan.pending] == ["kept"]
    assert cyan.pending[0].xml == kept
    assert [m.event.uid for m in red.pending] == ["dev-2"]
    assert red.pending[0].replace_key == "dev-2"  # a position report stays replaceable in outboxes


async def test_a_device_whose_disconnect_was_recorded_is_known_but_not_shown(tmp_path: Path) -> None:
    """The router records the disconnect delete; after a restart the device is in the register
    as departed (its mail and its callsign still find it) and not on the map."""
    store = open_store(f"sqlite://{tmp_path / 'store.sqlite3'}")
    await store.open()
    first = Router()

    def record(message: Outbound, sender: Subscriber) -> None:
        store.record(stored(message.xml, sender.in_groups))

    first.recorder = record
    team = Subscriber(lambda: None, transport="tcp", in_groups=("Cyan",), out_groups=("Cyan",))
    report = pli_xml("dev-team", "Rescue-3")
    now_ms = parse_event(report).time
    first.attach(team, now_ms)
    first.submit(team, parse_event(report), report, now_ms)
    first.detach(team, now_ms + 10)
    await store.flush()
    second = Router()
    try:
        assert await rebuild_cache(second, store, now_ms + 1000, DEFAULT_LIMITS) == 0
    finally:
        await store.close()
    device = second.devices.get("dev-team")
    assert device is not None
    assert (device.callsign, device.connected, device.groups) == ("Rescue-3", False, frozenset({"Cyan"}))
    assert second.devices.resolve("Rescue-3", frozenset({"Cyan"})) == ["dev-team"]
    viewer = Subscriber(lambda: None, transport="tcp", in_groups=("Cyan",), out_groups=("Cyan",))
    second.attach(viewer, now_ms + 1000)
    assert [m.event.uid for m in viewer.pending] == []

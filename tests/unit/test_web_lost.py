"""Units the command post lost contact with: kept as last known positions (disconnected or
gone stale), alerted once stale, cleared by a new report, seen only by their groups. Driven
by hand with explicit times, like the hub's coalescing tests."""

from rallypoint.cot.timefmt import format_time
from rallypoint.cot.xml import parse_event
from rallypoint.http.command_post.auth import Session
from rallypoint.http.command_post.live import LiveHub, LiveSocket
from rallypoint.http.command_post.lost import LOST_ALERT_KIND, LostBoard
from rallypoint.router.router import Router
from tests.unit.test_router import NOW, Client, _router
from tests.unit.test_web_live_hub import ANON, _drained, _next

RED = frozenset({"red"})
SECOND = 1000


def pli(uid: str, *, time_ms: int = NOW, stale_ms: int = NOW + 3600 * SECOND) -> bytes:
    """A device's position report at an explicit time (it binds the uid to its connection)."""
    t, s = format_time(time_ms), format_time(stale_ms)
    return (
        f'<event version="2.0" uid="{uid}" type="a-f-G-U-C" how="m-g" time="{t}" start="{t}" stale="{s}">'
        f'<point lat="1.5" lon="2.5"/><detail><contact callsign="{uid}-CS" endpoint="*:-1:stcp"/>'
        '<__group name="Cyan" role="Team Member"/></detail></event>'
    ).encode()


def submit(router: Router, client: Client, data: bytes, now_ms: int = NOW) -> None:
    router.submit(client.sub, parse_event(data), data, now_ms)


async def shown_to(hub: LiveHub, router: Router, device: Client, data: bytes) -> tuple[Client, LiveSocket]:
    """Open alice's page, route ``data`` from ``device`` and flush it to the page."""
    socket = hub.attach(Session("s-alice", "alice", ANON, "csrf", 0.0))
    assert (await _next(socket))["type"] == "snapshot"
    sender = Client(router)
    submit(router, device, data)
    await _drained(router, sender, socket, "position routed")
    hub.flush()
    assert (await _next(socket))["contact"]["uid"] == "UNIT-1"
    return sender, socket


async def test_a_disconnected_unit_stays_as_its_last_known_position() -> None:
    router = _router()
    hub = LiveHub(router, router.counters, lambda: NOW)
    device = Client(router)
    sender, socket = await shown_to(hub, router, device, pli("UNIT-1"))

    router.detach(device.sub, NOW + 5 * SECOND)
    lost = await _next(socket)
    assert lost["type"] == "contact"
    assert lost["contact"]["uid"] == "UNIT-1"
    assert lost["contact"]["lost"] == {"since": NOW + 5 * SECOND, "reason": "disconnected"}
    await _drained(router, sender, socket, "after the disconnect")
    assert "UNIT-1" not in router.cache, "TAK clients are still told it left"

    again = hub.attach(Session("s-alice-2", "alice", ANON, "csrf", 0.0))
    snapshot = await _next(again)
    assert [(c["uid"], c["lost"]["reason"]) for c in snapshot["contacts"]] == [("UNIT-1", "disconnected")]
    eve = hub.attach(Session("s-eve", "eve", RED, "csrf", 0.0))
    assert (await _next(eve))["contacts"] == [], "another group's lost unit stays hidden"
    assert router.counters.get("web_units_lost{reason=disconnected}") == 1


async def test_a_lost_unit_going_stale_raises_one_alert_until_it_reports_again() -> None:
    router = _router()
    hub = LiveHub(router, router.counters, lambda: NOW)
    device = Client(router)
    stale = NOW + 30 * SECOND
    sender, socket = await shown_to(hub, router, device, pli("UNIT-1", stale_ms=stale))
    router.detach(device.sub, NOW + SECOND)
    assert (await _next(socket))["contact"]["lost"]["reason"] == "disconnected"

    hub.expire(stale - 1)
    await _drained(router, sender, socket, "not stale yet")
    hub.expire(stale)
    alert = (await _next(socket))["alert"]
    assert (alert["uid"], alert["kind"], alert["lost"], alert["active"]) == (
        "UNIT-1",
        LOST_ALERT_KIND,
        True,
        True,
    )
    hub.expire(stale + 10 * SECOND)
    await _drained(router, sender, socket, "alerted once")

    back = Client(router)
    submit(router, back, pli("UNIT-1", time_ms=NOW + 60 * SECOND, stale_ms=NOW + 600 * SECOND))
    cleared = await _next(socket)
    assert (cleared["type"], cleared["alert"]["active"]) == ("alert", False)
    await _drained(router, sender, socket, "back")
    hub.flush()
    contact = (await _next(socket))["contact"]
    assert contact["uid"] == "UNIT-1"
    assert "lost" not in contact
    assert hub.lost.get("UNIT-1") is None


async def test_a_unit_that_stops_reporting_is_kept_when_its_report_expires() -> None:
    router = _router()
    hub = LiveHub(router, router.counters, lambda: NOW)
    device = Client(router)
    stale = NOW + 20 * SECOND
    _, socket = await shown_to(hub, router, device, pli("UNIT-1", stale_ms=stale))

    router.tick(stale)  # the cache lets the report go; the connection is still open
    lost = (await _next(socket))["contact"]
    assert lost["lost"] == {"since": stale, "reason": "stale"}
    hub.expire(stale)
    assert (await _next(socket))["alert"]["lost"] is True
    assert hub.acknowledge("alice", "UNIT-1", ANON) is not None
    assert (await _next(socket))["alert"]["acknowledged"] is True
    assert hub.acknowledge("eve", "UNIT-1", RED) is None, "acknowledged only within its groups"
    snapshot = await _next(hub.attach(Session("s-alice-2", "alice", ANON, "csrf", 0.0)))
    assert snapshot["alerts"] == []
    assert snapshot["contacts"][0]["lost"]["reason"] == "stale"


def test_the_board_is_bounded_and_forgets_after_its_keep_time() -> None:
    router = _router()
    a, b = Client(router), Client(router)
    submit(router, a, pli("A"))
    submit(router, b, pli("B"))
    board = LostBoard(limit=1, keep_ms=100 * SECOND)
    for uid in ("A", "B"):
        entry = router.cache.get(uid)
        assert entry is not None
        board.lose(entry.message.event, entry.groups, "disconnected", NOW)
    assert len(board) == 1
    assert board.get("B") is not None, "the one lost longest ago went first"
    assert board.tick(NOW + 99 * SECOND) == ([], [])
    _, forgotten = board.tick(NOW + 100 * SECOND)
    assert [u.event.uid for u in forgotten] == ["B"]
    assert len(board) == 0

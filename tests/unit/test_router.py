"""Routing decisions with in-memory subscribers (no sockets)."""

import itertools

from rallypoint.cot import control
from rallypoint.cot.xml import parse_event
from rallypoint.router.message import Outbound
from rallypoint.router.registry import Subscriber
from rallypoint.router.router import Router
from tests.conftest import fixture_bytes, fresh

NOW = 1_700_000_000_000


class Client:
    """A subscriber whose sink records what it receives."""

    def __init__(self, router: Router, groups: tuple[str, ...] = ("__ANON__",)) -> None:
        self.sub = Subscriber(lambda: None, transport="test", in_groups=groups, out_groups=groups)
        router.attach(self.sub, NOW)

    @property
    def received(self) -> list[Outbound]:
        return self.sub.pending

    @property
    def uids(self) -> list[str]:
        return [m.event.uid for m in self.received]

    @property
    def types(self) -> list[str]:
        return [m.event.type for m in self.received]


def _router() -> Router:
    counter = itertools.count()
    return Router(uid_factory=lambda: f"gen-{next(counter)}")


def _pli(uid: str, callsign: str, team: str = "Cyan") -> bytes:
    return (
        f'<event version="2.0" uid="{uid}" type="a-f-G-U-C" how="m-g" time="2023-11-14T22:13:20.000Z"'
        f' start="2023-11-14T22:13:20.000Z" stale="2099-01-01T00:00:00.000Z"><point lat="1" lon="2"/>'
        f'<detail><contact callsign="{callsign}" endpoint="*:-1:stcp"/><__group name="{team}" role="HQ"/>'
        "</detail></event>"
    ).encode()


def _submit(router: Router, client: Client, data: bytes) -> int:
    return router.submit(client.sub, parse_event(data), data, NOW)


def test_broadcast_reaches_everyone_but_the_sender() -> None:
    router = _router()
    a, b, c = Client(router), Client(router), Client(router)
    assert _submit(router, a, _pli("A", "alpha")) == 2
    assert a.uids == []
    assert b.uids == ["A"]
    assert c.uids == ["A"]
    assert b.received[0].xml == _pli("A", "alpha")  # original bytes forwarded


def test_first_position_report_binds_uid_and_callsign() -> None:
    router = _router()
    a = Client(router)
    _submit(router, a, _pli("A", "alpha", "Red"))
    assert (a.sub.uid, a.sub.callsign, a.sub.team, a.sub.role) == ("A", "alpha", "Red", "HQ")
    assert router.registry.by_uid("A") is a.sub


def test_directed_by_callsign_goes_only_there_and_marti_is_stripped() -> None:
    router = _router()
    sender, joker, other = Client(router), Client(router), Client(router)
    _submit(router, joker, _pli("ANDROID-cafebabe", "JOKER MAN"))
    chat = fixture_bytes("geochat_direct_marti_dest.xml")
    assert _submit(router, sender, chat) == 1
    assert joker.types == ["b-t-f"]
    assert other.types == ["a-f-G-U-C"]
    assert b"marti" not in joker.received[0].xml
    assert joker.received[0].directed


def test_directed_by_uid() -> None:
    router = _router()
    sender, target, other = Client(router), Client(router), Client(router)
    _submit(router, target, _pli("T", "target"))
    data = fresh(fixture_bytes("marker_2525_atak.xml")).replace(
        b"</detail>", b'<marti><dest uid="T"/></marti></detail>'
    )
    assert _submit(router, sender, data) == 1
    assert target.types == ["a-u-G"]
    assert other.types == ["a-f-G-U-C"]


def test_all_streaming_means_everyone() -> None:
    router = _router()
    a, _b, _c = Client(router), Client(router), Client(router)
    data = fresh(fixture_bytes("marker_2525_atak.xml")).replace(
        b"</detail>", b'<marti><dest callsign="All Streaming"/></marti></detail>'
    )
    assert _submit(router, a, data) == 2


def test_undeliverable_chat_bounces_to_sender() -> None:
    router = _router()
    sender = Client(router)
    assert _submit(router, sender, fixture_bytes("geochat_direct_marti_dest.xml")) == 0
    assert sender.types == ["b-t-f-s"]


def test_groups_isolate() -> None:
    router = _router()
    red1, red2, blue = Client(router, ("red",)), Client(router, ("red",)), Client(router, ("blue",))
    _submit(router, red1, _pli("R1", "red1"))
    assert red2.uids == ["R1"]
    assert blue.uids == []
    late_blue = Client(router, ("blue",))
    late_red = Client(router, ("red",))
    assert late_blue.uids == []
    assert late_red.uids == ["R1"]


def test_group_dest_requires_membership() -> None:
    router = _router()
    both = Client(router, ("red", "blue"))
    red, blue = Client(router, ("red",)), Client(router, ("blue",))
    marker = fresh(fixture_bytes("marker_2525_atak.xml"))
    to_red = marker.replace(b"</detail>", b'<marti><dest group="red"/></marti></detail>')
    assert _submit(router, both, to_red) == 1
    assert red.types == ["a-u-G"]
    assert blue.types == []
    to_blue = marker.replace(b"</detail>", b'<marti><dest group="blue"/></marti></detail>')
    assert _submit(router, red, to_blue) == 0
    assert router.counters.get("dropped{reason=illegal_group}") == 1


def test_team_colours_are_display_only_unless_isolated() -> None:
    router = _router()
    red, blue = Client(router), Client(router)
    _submit(router, blue, _pli("B", "blue", "Blue"))
    _submit(router, red, _pli("R", "red", "Red"))
    assert blue.uids == ["R"]
    isolated = Router(isolate_teams=True)
    red, blue, red2 = Client(isolated), Client(isolated), Client(isolated)
    _submit(isolated, red2, _pli("R2", "red2", "Red"))
    _submit(isolated, blue, _pli("B", "blue", "Blue"))
    _submit(isolated, red, _pli("R", "red", "Red"))
    assert blue.uids == []
    assert red2.uids == ["R"]


def test_replay_to_late_joiner_skips_stale_and_directed() -> None:
    router = _router()
    a = Client(router)
    _submit(router, a, _pli("A", "alpha"))
    _submit(router, a, fixture_bytes("marker_spot_atak.xml"))  # stale in 2020
    _submit(router, a, fresh(fixture_bytes("drawing_circle_atak.xml")))
    _submit(router, a, fixture_bytes("geochat_all_chat_rooms_atak.xml"))
    late = Client(router)
    assert late.types == ["a-f-G-U-C", "u-d-c-c"]


def test_delete_removes_from_replay() -> None:
    router = _router()
    a = Client(router)
    circle = fresh(fixture_bytes("drawing_circle_atak.xml"))
    uid = parse_event(circle).uid
    _submit(router, a, circle)
    delete = (
        '<event version="2.0" uid="del-1" type="t-x-d-d" how="m-g" time="2023-11-14T22:13:20.000Z"'
        ' start="2023-11-14T22:13:20.000Z" stale="2099-01-01T00:00:00.000Z"><point lat="0" lon="0"/>'
        f'<detail><link uid="{uid}" relation="none" type="none"/><__forcedelete/></detail></event>'
    ).encode()
    b = Client(router)
    assert b.uids == [uid]
    _submit(router, a, delete)
    assert b.types[-1] == "t-x-d-d"
    assert Client(router).uids == []


def test_pytak_hello_delete_without_link_is_ignored() -> None:
    router = _router()
    a, b = Client(router), Client(router)
    hello = (
        b'<event version="2.0" uid="host" type="t-x-d-d" how="m-g" time="2023-11-14T22:13:20Z"'
        b' start="2023-11-14T22:13:20Z" stale="2099-01-01T00:00:00Z"><point lat="0" lon="0"/>'
        b'<detail><_flow-tags_ pytak="x"/></detail></event>'
    )
    assert _submit(router, a, hello) == 0
    assert b.received == []


def test_disconnect_sends_delete_linking_to_the_departed() -> None:
    router = _router()
    a, b = Client(router), Client(router)
    _submit(router, a, _pli("A", "alpha"))
    router.detach(a.sub, NOW + 5)
    delete = b.received[-1].event
    assert delete.type == "t-x-d-d"
    assert delete.uid == "gen-0"
    assert delete.detail is not None
    assert [(link.uid, link.type, link.relation) for link in delete.detail.links] == [
        ("A", "a-f-G-U-C", "p-p")
    ]
    assert "A" not in router.cache
    assert router.registry.by_uid("A") is None


def test_control_messages_are_never_routed() -> None:
    router = _router()
    a, b = Client(router), Client(router)
    ping = control.pong(NOW)._replace(type="t-x-c-t", uid="A-ping")
    assert router.submit(a.sub, ping, None, NOW) == 0
    assert router.submit(a.sub, control.protocol_request("x", NOW), None, NOW) == 0
    assert b.received == []


def test_emergency_repeats_until_cancelled() -> None:
    router = _router()
    a, b = Client(router), Client(router)
    alert = fixture_bytes("emergency_911_alert.xml")
    _submit(router, a, alert)
    assert b.types == ["b-a-o-tbl"]
    router.tick(NOW + 3_000)
    assert b.types == ["b-a-o-tbl", "b-a-o-tbl"]
    repeated = b.received[-1].event
    assert (repeated.time, repeated.stale) == (NOW + 3_000, NOW + 18_000)
    assert a.types == []
    late = Client(router)
    assert late.types == ["b-a-o-tbl"]
    cancel = alert.replace(b'type="b-a-o-tbl"', b'type="b-a-o-can"').replace(
        b'<emergency type="911 Alert">', b'<emergency cancel="true">'
    )
    _submit(router, a, cancel)
    assert b.types[-1] == "b-a-o-can"
    router.tick(NOW + 10_000)
    assert b.types[-1] == "b-a-o-can"
    assert Client(router).types == []


def test_stale_entries_expire_on_tick() -> None:
    router = _router()
    a = Client(router)
    _submit(router, a, fresh(_pli("A", "alpha"), stale="2023-11-14T22:14:00.000Z"))
    assert "A" in router.cache
    router.tick(parse_event(_pli("A", "a")).time + 41_000)
    assert "A" not in router.cache


def test_chat_without_marti_falls_back_on_envelope() -> None:
    router = _router()
    sender, target, _other = Client(router), Client(router), Client(router)
    _submit(router, target, _pli("ANDROID-cafebabe", "JOKER MAN"))
    chat = fixture_bytes("geochat_direct_marti_dest.xml").replace(b'<dest callsign="JOKER MAN"/>', b"")
    chat = chat.replace(b"<marti>", b"").replace(b"</marti>", b"")
    assert _submit(router, sender, chat) == 1
    assert target.types == ["b-t-f"]
    room = fixture_bytes("geochat_all_chat_rooms_atak.xml")
    assert _submit(router, sender, room) == 2


def test_registry_lists_clients_for_the_api() -> None:
    router = _router()
    a, b = Client(router), Client(router)
    _submit(router, a, _pli("A", "alpha", "Red"))
    rows = {row.uid: row for row in router.registry.clients()}
    assert set(rows) == {"A", None}
    row = rows["A"]
    assert (row.callsign, row.team, row.role, row.transport) == ("alpha", "Red", "HQ", "test")
    assert row.last_seen == NOW
    router.detach(b.sub, NOW)
    assert [row.uid for row in router.registry.clients()] == ["A"]

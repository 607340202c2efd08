"""Group reachability in the router (reference §5.2): who may reach whom, for every kind of delivery.

There is no authentication yet, so every socket client is ``__ANON__``; these tests build
:class:`Subscriber` objects with explicit IN/OUT groups and list sinks instead. A message
from S reaches R only when some group S sends into (IN) is one R receives from (OUT).
"""

import itertools

from rallypoint.cot.xml import parse_event
from rallypoint.router.message import Outbound
from rallypoint.router.registry import Subscriber
from rallypoint.router.router import Router
from rallypoint.router.teams import TeamBook
from tests.conftest import fixture_bytes, fresh

NOW = 1_700_000_000_000
TIME = "2023-11-14T22:13:20.000Z"


class Member:
    """A subscriber with separate IN and OUT groups; what the router hands it stays in ``pending``."""

    def __init__(self, router: Router, ins: tuple[str, ...], outs: tuple[str, ...] | None = None) -> None:
        self.sub = Subscriber(
            lambda: None, transport="test", in_groups=ins, out_groups=ins if outs is None else outs
        )
        router.attach(self.sub, NOW)

    @property
    def received(self) -> list[Outbound]:
        return self.sub.pending

    @property
    def uids(self) -> list[str]:
        return [message.event.uid for message in self.received]

    @property
    def types(self) -> list[str]:
        return [message.event.type for message in self.received]


def _router() -> Router:
    counter = itertools.count()
    return Router(uid_factory=lambda: f"gen-{next(counter)}")


def _event(uid: str, cot_type: str, detail: str, stale: str = "2099-01-01T00:00:00.000Z") -> bytes:
    return (
        f'<event version="2.0" uid="{uid}" type="{cot_type}" how="m-g" time="{TIME}" start="{TIME}"'
        f' stale="{stale}"><point lat="1" lon="2"/><detail>{detail}</detail></event>'
    ).encode()


def _pli(uid: str, callsign: str) -> bytes:
    return _event(uid, "a-f-G-U-C", f'<contact callsign="{callsign}" endpoint="*:-1:stcp"/>')


def _submit(router: Router, member: Member, data: bytes, now: int = NOW) -> int:
    return router.submit(member.sub, parse_event(data), data, now)


def test_in_only_membership_sends_but_never_receives() -> None:
    router = _router()
    sensor = Member(router, ins=("ops",), outs=())
    viewer = Member(router, ins=("ops",))
    _submit(router, sensor, _pli("SENSOR", "sensor"))
    _submit(router, viewer, _pli("VIEWER", "viewer"))
    assert viewer.uids == ["SENSOR"]
    assert sensor.uids == []


def test_out_only_membership_receives_but_reaches_nobody() -> None:
    router = _router()
    watcher = Member(router, ins=(), outs=("ops",))
    member = Member(router, ins=("ops",))
    assert _submit(router, watcher, _pli("WATCHER", "watcher")) == 0
    _submit(router, member, _pli("MEMBER", "member"))
    assert member.uids == []
    assert watcher.uids == ["MEMBER"]


def test_a_member_of_two_groups_bridges_neither_way_for_others() -> None:
    router = _router()
    red, blue = Member(router, ("red",)), Member(router, ("blue",))
    both = Member(router, ("red", "blue"))
    _submit(router, red, _pli("RED", "red"))
    _submit(router, blue, _pli("BLUE", "blue"))
    _submit(router, both, _pli("BOTH", "both"))
    assert sorted(both.uids) == ["BLUE", "RED"]
    assert red.uids == ["BOTH"]
    assert blue.uids == ["BOTH"]


def test_directed_delivery_cannot_cross_groups() -> None:
    router = _router()
    red, blue = Member(router, ("red",)), Member(router, ("blue",))
    _submit(router, blue, _pli("BLUE", "BLUE ONE"))
    by_callsign = _event("M1", "b-m-p-s-m", '<marti><dest callsign="BLUE ONE"/></marti>')
    by_uid = _event("M2", "b-m-p-s-m", '<marti><dest uid="BLUE"/></marti>')
    everyone = _event("M3", "b-m-p-s-m", '<marti><dest callsign="All Streaming"/></marti>')
    assert _submit(router, red, by_callsign) == 0
    assert _submit(router, red, by_uid) == 0
    assert _submit(router, red, everyone) == 0
    assert blue.uids == []


def test_chat_to_an_unreachable_callsign_bounces_to_the_sender() -> None:
    router = _router()
    red, blue = Member(router, ("red",)), Member(router, ("blue",))
    _submit(router, blue, _pli("BLUE", "JOKER MAN"))
    chat = fixture_bytes("geochat_direct_marti_dest.xml")  # addressed to callsign "JOKER MAN"
    assert _submit(router, red, chat) == 0
    assert blue.types == []
    assert red.types == ["b-t-f-s"]


def test_chat_fallback_without_marti_stays_inside_groups() -> None:
    router = _router()
    red1, red2, blue = Member(router, ("red",)), Member(router, ("red",)), Member(router, ("blue",))
    chat = fixture_bytes("geochat_all_chat_rooms_atak.xml")
    assert _submit(router, red1, chat) == 1
    assert red2.types == ["b-t-f"]
    assert blue.types == []


def test_replay_on_attach_follows_the_out_groups_of_the_newcomer() -> None:
    router = _router()
    red, blue = Member(router, ("red",)), Member(router, ("blue",))
    _submit(router, red, _pli("RED", "red"))
    _submit(router, blue, fresh(fixture_bytes("marker_2525_atak.xml")))
    assert sorted(Member(router, ("red", "blue")).uids) == ["RED", "a0c524c6-0422-4382-9981-e39d1dc71730"]
    assert Member(router, ("green",)).uids == []
    assert Member(router, ins=("red",), outs=()).uids == []


def test_disconnect_delete_goes_only_to_clients_that_could_see_the_departed() -> None:
    router = _router()
    red, red_watcher, blue = Member(router, ("red",)), Member(router, ("red",)), Member(router, ("blue",))
    _submit(router, red, _pli("RED", "red"))
    router.detach(red.sub, NOW + 1000)
    assert red_watcher.types == ["a-f-G-U-C", "t-x-d-d"]
    assert red_watcher.received[-1].event.detail.links[0].uid == "RED"  # type: ignore[union-attr]
    assert blue.types == []


def test_a_delete_from_another_group_does_not_remove_the_cached_item() -> None:
    router = _router()
    red, blue = Member(router, ("red",)), Member(router, ("blue",))
    _submit(router, red, _event("MARKER", "b-m-p-s-m", ""))
    delete = _event("DEL", "t-x-d-d", '<link uid="MARKER" relation="none" type="none"/><__forcedelete/>')
    _submit(router, blue, delete)
    assert "MARKER" in router.cache
    _submit(router, red, delete)
    assert "MARKER" not in router.cache


def test_alert_repetitions_reach_only_the_groups_of_the_alerting_client() -> None:
    router = _router()
    red, red_watcher, blue = Member(router, ("red",)), Member(router, ("red",)), Member(router, ("blue",))
    alert = fixture_bytes("emergency_911_alert.xml").replace(
        b"2018-12-17T22:47:25.109Z", b"2099-01-01T00:00:00Z"
    )
    _submit(router, red, alert, NOW)
    router.tick(NOW + router.alerts.period_ms)
    router.tick(NOW + 2 * router.alerts.period_ms)
    assert red_watcher.types == ["b-a-o-tbl"] * 3
    assert blue.types == []
    assert red.types == []
    assert Member(router, ("blue",)).types == []
    assert Member(router, ("red",)).types == ["b-a-o-tbl"]


def test_group_dest_narrows_to_one_of_the_senders_groups() -> None:
    router = _router()
    both = Member(router, ("red", "blue"))
    red, blue, green = Member(router, ("red",)), Member(router, ("blue",)), Member(router, ("green",))
    to_green = _event("M-GREEN", "b-m-p-s-m", '<marti><dest group="green"/></marti>')
    to_blue = _event("M-BLUE", "b-m-p-s-m", '<marti><dest group="blue"/></marti>')
    assert _submit(router, both, to_green) == 0
    assert _submit(router, both, to_blue) == 1
    assert (red.uids, blue.uids, green.uids) == ([], ["M-BLUE"], [])
    assert router.counters.get("dropped{reason=illegal_group}") == 1


def test_an_isolated_identity_keeps_its_first_team_across_reconnects() -> None:
    book = TeamBook(isolate=True)
    first = Subscriber(lambda: None, transport="tls", identity="mallory")
    assert book.apply(first, "Red", "Team Member") is None
    assert book.apply(first, "Blue", "Team Member") == "Red"
    assert first.team == "Red"
    again = Subscriber(lambda: None, transport="tls", identity="mallory")
    assert book.apply(again, "Blue", "HQ") == "Red"
    assert again.team == "Red"
    open_book = TeamBook(isolate=False)
    assert open_book.apply(again, "Blue", "HQ") is None
    assert (again.team, again.role) == ("Blue", "HQ")

"""What crosses between two sites and how it enters (``federation.crossing``): two routers, no NATS.

Site alpha's router publishes into bravo's :class:`Arrivals` the way the link does (the event's
XML with its ``marti``, and who sent it with only the groups it may leave in), so these are the
federation's decisions: the outbound and inbound rules, group mapping, stale events, repeats by
uid and time, directed messages kept for an offline recipient, and no echo.
"""

from pathlib import Path

import pytest

from rallypoint.cluster.envelope import KIND_DEPARTED, decode, encode_headers
from rallypoint.config import Settings
from rallypoint.cot.event import Event
from rallypoint.cot.xml import parse_event, serialize_event
from rallypoint.errors import ConfigError
from rallypoint.federation.crossing import Arrivals, leaving, sent_here
from rallypoint.federation.policy import parse_policy
from rallypoint.federation.settings import load_federation
from rallypoint.router.message import Outbound
from rallypoint.router.registry import Subscriber
from rallypoint.router.router import Router
from tests.unit.test_router import NOW, Client, _pli, _submit

ALPHA = parse_policy(
    {
        "site": "alpha",
        "remotes": [
            {
                "site": "bravo",
                "outbound": {"groups": ["blue", "red"], "kinds": ["positions", "chat"]},
                "inbound": {"groups": {"blue": "blue"}, "kinds": ["positions"]},
            }
        ],
    }
)
BRAVO = parse_policy(
    {
        "site": "bravo",
        "remotes": [
            {
                "site": "alpha",
                "outbound": {"groups": ["cyan"], "kinds": ["positions"]},
                "inbound": {"groups": {"blue": "cyan"}, "kinds": ["positions", "chat"]},
            }
        ],
    }
)
"""Alpha lets blue and red positions and chat leave; bravo maps alpha's blue to its cyan and
has no mapping for red, so red never enters."""


class Link:
    """Alpha's router publishes into bravo's arrivals; what bravo routes it publishes too."""

    def __init__(self) -> None:
        self.alpha, self.bravo = Router(), Router()
        self.arrivals = Arrivals(self.bravo, BRAVO.remotes[0])
        self.wire: list[tuple[dict[str, str], bytes]] = []
        self.from_bravo: list[str] = []
        self.alpha.on_publish = self._leave
        self.bravo.on_publish = lambda message, sender, _departed: self.from_bravo.extend(
            copy.msg_id for copy in leaving(BRAVO, message, sender)
        )

    def _leave(self, message: Outbound, sender: Subscriber, departed: bool) -> None:
        for copy in leaving(ALPHA, message, sender):
            self.wire.append(
                (encode_headers(copy.msg_id, copy.sender, departed=departed), serialize_event(message.event))
            )

    def cross(self, now_ms: int = NOW) -> list[int | None]:
        """Deliver everything on the wire (and keep it there, to be delivered again)."""
        routed = []
        for headers, payload in self.wire:
            envelope = decode(headers, payload)
            departed = envelope.kind == KIND_DEPARTED
            event = parse_event(payload)
            routed.append(
                self.arrivals.route(envelope.sender, event, payload, departed=departed, now_ms=now_ms)
            )
        return routed


def _event(
    uid: str,
    cot_type: str,
    *,
    time: str = "2023-11-14T22:13:20.000Z",
    stale: str = "2099-01-01T00:00:00.000Z",
    detail: str = "",
) -> bytes:
    return (
        f'<event version="2.0" uid="{uid}" type="{cot_type}" how="m-g" time="{time}" start="{time}"'
        f' stale="{stale}"><point lat="1" lon="2"/><detail>{detail}</detail></event>'
    ).encode()


def _chat_to(callsign: str) -> bytes:
    detail = f'<__chat chatroom="{callsign}" id="{callsign}" senderCallsign="A"/><marti><dest callsign="{callsign}"/></marti>'
    return _event(f"GeoChat.A.{callsign}.1", "b-t-f", detail=detail)


def test_groups_are_mapped_and_an_unmapped_group_never_enters() -> None:
    link = Link()
    blue, red = Client(link.alpha, ("blue",)), Client(link.alpha, ("red",))
    cyan, other = Client(link.bravo, ("cyan",)), Client(link.bravo, ("blue",))
    _submit(link.alpha, blue, _event("BLUE-TRACK", "a-h-G"))
    _submit(link.alpha, red, _event("RED-TRACK", "a-h-G"))
    assert link.cross() == [1, None]
    assert cyan.uids == ["BLUE-TRACK"]
    assert other.uids == []  # bravo's own blue is not alpha's blue
    assert link.bravo.counters.get("federation_dropped{reason=policy}") == 1
    assert Client(link.bravo, ("cyan",)).uids == ["BLUE-TRACK"]  # in bravo's picture for late joiners


def test_kinds_leave_and_enter_by_each_sides_rule() -> None:
    link = Link()
    blue = Client(link.alpha, ("blue",))
    _submit(link.alpha, blue, _event("MARKER", "b-m-p-s-m"))  # no kind: never leaves
    _submit(link.alpha, blue, _event("EMERGENCY", "b-a-o-tbl"))  # alpha does not let it out
    _submit(link.alpha, blue, _chat_to("anyone"))  # leaves alpha, bravo takes chat
    assert [headers["Nats-Msg-Id"].split(":")[1] for headers, _ in link.wire] == ["GeoChat.A.anyone.1"]


def test_a_repeat_of_one_uid_and_time_is_dropped_and_a_stale_event_skipped() -> None:
    link = Link()
    blue = Client(link.alpha, ("blue",))
    cyan = Client(link.bravo, ("cyan",))
    _submit(link.alpha, blue, _event("TRACK", "a-h-G"))
    _submit(link.alpha, blue, _event("TRACK", "a-h-G", time="2023-11-14T22:13:21.000Z"))
    _submit(link.alpha, blue, _event("OLD", "a-h-G", stale="2023-11-14T22:13:30.000Z"))
    later = NOW + 60_000  # OLD went stale ten seconds after it was sent
    assert link.cross(later) == [1, 1, None]
    assert link.cross(later) == [None, None, None]  # the source resumed from too far back: repeats
    assert cyan.uids == ["TRACK", "TRACK"]
    assert link.bravo.counters.get("federation_duplicate") == 2
    assert link.bravo.counters.get("federation_dropped{reason=stale}") == 2  # skipped, not remembered


def test_what_entered_never_leaves_again() -> None:
    link = Link()
    blue = Client(link.alpha, ("blue",))
    Client(link.bravo, ("cyan",))
    _submit(link.alpha, blue, _pli("ALPHA-1", "alpha one"))
    link.cross()
    assert link.from_bravo == []
    local = Client(link.bravo, ("cyan",))
    _submit(link.bravo, local, _pli("BRAVO-1", "bravo one"))
    assert link.from_bravo == [f"alpha:BRAVO-1:{parse_event(_pli('BRAVO-1', 'bravo one')).time}"]


def test_a_chat_for_an_offline_device_is_kept_at_its_site_and_a_remote_device_is_not_bounced() -> None:
    link = Link()
    kept: list[str] = []
    link.bravo.on_absent = lambda uid, _message, _sender: kept.append(uid) is None
    link.alpha.on_absent = lambda uid, _message, _sender: kept.append(f"alpha:{uid}") is None
    sender = Client(link.alpha, ("blue",))
    device = Client(link.bravo, ("cyan",))
    _submit(link.bravo, device, _pli("BRAVO-2", "bravo two"))
    link.alpha.devices.bound("BRAVO-2", "bravo two", None, frozenset({"blue"}), NOW, node="bravo")
    link.bravo.detach(device.sub, NOW)
    _submit(link.alpha, sender, _chat_to("bravo two"))
    assert sender.received == []  # not answered "undeliverable": bravo delivers it
    assert link.cross() == [0]
    assert kept == ["BRAVO-2"]  # kept once, at bravo only


def test_a_remote_devices_own_report_makes_it_known_as_at_its_site() -> None:
    link = Link()
    blue = Client(link.alpha, ("blue",))
    _submit(link.alpha, blue, _pli("ALPHA-1", "alpha one"))
    link.cross()
    device = link.bravo.devices.get("ALPHA-1")
    assert device is not None
    assert (device.connected, device.node) == (True, "alpha")


def _settings(tmp_path: Path, text: str, **more: str) -> Settings:
    path = tmp_path / "federation.toml"
    path.write_text(text)
    return Settings(federation_url="nats://127.0.0.1:4222", federation_file=str(path), **more)


@pytest.mark.parametrize(
    ("text", "more", "said"),
    [
        ("[federation]\nsite = 'alpha'\n", {}, "at least one"),
        ("[other]\n", {}, "no [federation] table"),
        ("[federation\n", {}, "not valid TOML"),
        ("[federation]\nsite = 'al.pha'\n[[federation.remotes]]\nsite = 'bravo'\n", {}, "'al.pha'"),
        ("[federation]\nsite = 'alpha'\n[[federation.remotes]]\nsite = 'ALPHA'\n", {}, "must differ"),
        ("[federation]\nsite = 'a'\n", {"cluster_url": "nats://x:4222"}, "cluster_url together"),
    ],
)
def test_a_bad_federation_setting_is_refused_in_one_line(
    tmp_path: Path, text: str, more: dict[str, str], said: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        load_federation(_settings(tmp_path, text, **more))
    assert said in str(refused.value)
    assert "\n" not in str(refused.value)


def test_a_good_file_gives_the_policy(tmp_path: Path) -> None:
    policy = load_federation(
        _settings(tmp_path, "[federation]\nsite = 'alpha'\n[[federation.remotes]]\nsite = 'bravo'\n")
    )
    assert (policy.site, [r.site for r in policy.remotes]) == ("alpha", ["bravo"])


def test_one_event_leaves_once_per_remote_its_rules_allow_with_an_id_of_its_own() -> None:
    policy = parse_policy(
        {
            "site": "alpha",
            "remotes": [
                {"site": "bravo", "outbound": {"groups": ["blue"], "kinds": ["positions"]}},
                {"site": "charlie", "outbound": {"groups": ["blue"], "kinds": ["positions"]}},
                {"site": "delta", "outbound": {"groups": ["red"], "kinds": ["positions"]}},
            ],
        }
    )
    router = Router()
    sender = Client(router, ("blue", "green"))
    message = Outbound(parse_event(_event("TRACK", "a-h-G")))
    copies = list(leaving(policy, message, sender.sub))
    assert [copy.remote for copy in copies] == ["bravo", "charlie"]
    assert len({copy.msg_id for copy in copies}) == 2  # JetStream de-duplicates per stream
    assert all(copy.sender.in_groups == {"blue"} for copy in copies)  # green stays at alpha


def test_an_objective_and_a_marker_leave_by_their_own_kinds_and_a_drawing_stays() -> None:
    policy = parse_policy(
        {
            "site": "alpha",
            "remotes": [
                {"site": "bravo", "outbound": {"groups": ["blue"], "kinds": ["objectives", "markers"]}}
            ],
        }
    )
    sender = Client(Router(), ("blue",))
    objective = '<__objective id="o1" state="assigned"/>'
    events = [
        _event("OBJECTIVE-AREA", "u-d-f", detail=objective),
        _event("SPOT", "b-m-p-s-m"),
        _event("SHAPE", "u-d-f"),
        _event("RANGE", "u-rb-a"),
    ]
    left = [
        copy.msg_id.split(":")[1]
        for data in events
        for copy in leaving(policy, Outbound(parse_event(data)), sender.sub)
    ]
    assert left == ["OBJECTIVE-AREA", "SPOT"]


def test_what_a_server_sends_a_device_at_the_other_site_is_handed_there_once_per_device() -> None:
    bravo = Router()
    handed: list[tuple[str, str, str]] = []

    def deliver_to(uid: str, event: Event, *, crossing: str) -> bool:
        handed.append((uid, event.uid, crossing))
        return False  # kept in bravo's mailbox

    arrivals = Arrivals(bravo, BRAVO.remotes[0], deliver_to=deliver_to)
    chat = parse_event(_chat_to("bravo two"))
    marker = parse_event(_event("SPOT", "b-m-p-s-m"))  # bravo lets no markers in
    assert arrivals.sent_to("BRAVO-2", chat, NOW) is False
    assert arrivals.sent_to("BRAVO-3", chat, NOW) is False  # the same event for another device
    assert arrivals.sent_to("BRAVO-2", chat, NOW) is None  # a repeat
    assert arrivals.sent_to("BRAVO-2", marker, NOW) is None
    key = f"alpha:{chat.uid}:{chat.time}"
    assert handed == [("BRAVO-2", chat.uid, key), ("BRAVO-3", chat.uid, key)]
    assert bravo.counters.get("federation_duplicate") == 1


def test_a_server_sent_event_leaves_only_by_the_remotes_outbound_kinds() -> None:
    chat = parse_event(_chat_to("bravo two"))
    assert sent_here(ALPHA, "bravo", chat) == f"bravo:{chat.uid}:{chat.time}"
    assert sent_here(ALPHA, "bravo", parse_event(_event("SPOT", "b-m-p-s-m"))) is None
    assert sent_here(ALPHA, "charlie", chat) is None  # no such remote: kept at this site

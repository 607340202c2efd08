"""Anti-spoofing (issue 3, item 4): the first introducer of a uid or callsign owns it.

The table alone (claims, bounds, deletes), then the router using it: a refused event is not
routed, not cached, counted, reported once, and ownership survives the owner's reconnects.
"""

import itertools

import pytest

from rallypoint.cot.event import Event
from rallypoint.cot.xml import parse_event
from rallypoint.router.ownership import OwnershipTable, Refusal
from rallypoint.router.refusals import REPORT_INTERVAL_MS, Denial
from rallypoint.router.registry import Subscriber
from rallypoint.router.router import Router
from rallypoint.router.skeleton import skeleton

NOW = 1_700_000_000_000
TIME = "2023-11-14T22:13:20.000Z"


def _xml(uid: str, cot_type: str, detail: str, when: str = TIME) -> bytes:
    return (
        f'<event version="2.0" uid="{uid}" type="{cot_type}" how="m-g" time="{when}" start="{when}"'
        f' stale="2099-01-01T00:00:00.000Z"><point lat="1" lon="2"/><detail>{detail}</detail></event>'
    ).encode()


def _pli(uid: str, callsign: str, when: str = TIME) -> bytes:
    return _xml(uid, "a-f-G-U-C", f'<contact callsign="{callsign}" endpoint="*:-1:stcp"/>', when)


def _marker(uid: str, name: str) -> bytes:
    return _xml(uid, "b-m-p-s-m", f'<contact callsign="{name}"/>')


def _delete(target: str) -> bytes:
    return _xml("delete-1", "t-x-d-d", f'<link uid="{target}" relation="none" type="none"/>')


def _event(data: bytes) -> Event:
    return parse_event(data)


# The table


def test_first_introducer_owns_a_uid() -> None:
    table = OwnershipTable()
    assert table.admit("alice", _event(_pli("A-1", "ALPHA"))) is None
    assert table.admit("alice", _event(_pli("A-1", "ALPHA"))) is None  # its own again: fine
    assert table.admit("bob", _event(_marker("A-1", "x"))) == Refusal("uid", "A-1", "alice")
    assert table.uid_owner("A-1") == "alice"


def test_a_sender_that_claims_nothing_may_not_reuse_owned_uids() -> None:
    table = OwnershipTable()
    assert table.admit(None, _event(_pli("FREE", "FREE"))) is None
    assert table.uid_owner("FREE") is None, "an anonymous sender claims nothing"
    table.admit("alice", _event(_pli("A-1", "ALPHA")))
    assert table.admit(None, _event(_pli("A-1", "ALPHA"))) == Refusal("uid", "A-1", "alice")


def test_callsign_of_a_position_report_is_owned_without_regard_to_case() -> None:
    table = OwnershipTable()
    table.admit("alice", _event(_pli("A-1", "Alpha")))
    assert table.admit("bob", _event(_pli("B-1", " ALPHA"))) == Refusal("callsign", " ALPHA", "alice")
    assert table.uid_owner("B-1") is None, "a refused event claims nothing"
    # A marker's contact names the marker, not its sender: no claim, no check.
    assert table.admit("bob", _event(_marker("M-1", "Alpha"))) is None
    assert table.callsign_owner("alpha") == "alice"


def test_an_owner_keeps_only_its_recent_callsigns() -> None:
    table = OwnershipTable()
    for index in range(6):
        table.admit("alice", _event(_pli("A-1", f"NAME-{index}")))
    assert table.callsign_owner("NAME-0") is None
    assert table.callsign_owner("NAME-5") == "alice"


def test_deletes_of_another_owners_uid_are_refused() -> None:
    table = OwnershipTable()
    table.admit("alice", _event(_marker("M-1", "mine")))
    assert table.admit("bob", _event(_delete("M-1"))) == Refusal("delete", "M-1", "alice")
    assert table.admit(None, _event(_delete("M-1"))) == Refusal("delete", "M-1", "alice")
    assert table.admit("alice", _event(_delete("M-1"))) is None
    assert table.admit("bob", _event(_delete("UNOWNED"))) is None
    assert table.uid_owner("delete-1") is None, "a delete claims nothing"


def test_an_owner_over_its_quota_forgets_its_own_oldest_claims() -> None:
    table = OwnershipTable(max_uids=100, max_uids_per_owner=3)
    table.admit("alice", _event(_pli("A-1", "ALPHA")))
    for index in range(10):
        table.admit("mallory", _event(_marker(f"FLOOD-{index}", "x")))
    assert table.uid_owner("A-1") == "alice", "a flood evicts only the flooder's claims"
    assert [table.uid_owner(f"FLOOD-{index}") for index in (6, 7, 8, 9)] == [
        None,
        "mallory",
        "mallory",
        "mallory",
    ]
    assert table.uid_count == 4


def test_the_table_forgets_the_least_recently_used_claim_past_its_cap() -> None:
    table = OwnershipTable(max_uids=3, max_uids_per_owner=3)
    table.admit("alice", _event(_pli("A-1", "ALPHA")))
    table.admit("bob", _event(_pli("B-1", "BRAVO")))
    table.admit("carol", _event(_pli("C-1", "CHARLIE")))
    table.admit("alice", _event(_pli("A-1", "ALPHA")))  # alice is active: B-1 is now the oldest
    table.admit("dave", _event(_pli("D-1", "DELTA")))
    assert table.uid_count == 3
    assert [table.uid_owner(uid) for uid in ("A-1", "B-1", "C-1", "D-1")] == ["alice", None, "carol", "dave"]


def test_release_frees_every_claim_of_an_owner() -> None:
    table = OwnershipTable()
    table.admit("conn-1", _event(_pli("A-1", "ALPHA")))
    table.release("conn-1")
    assert table.admit("conn-2", _event(_pli("A-1", "ALPHA"))) is None


# The router


class Client:
    def __init__(self, router: Router, identity: str | None, groups: tuple[str, ...] = ("ops",)) -> None:
        self.sub = Subscriber(
            lambda: None,
            transport="test",
            address=f"10.0.0.1:{identity}",
            in_groups=groups,
            out_groups=groups,
            identity=identity,
            owner=identity,
        )
        router.attach(self.sub, NOW)

    @property
    def uids(self) -> list[str]:
        return [message.event.uid for message in self.sub.pending]


def _router() -> tuple[Router, list[Denial]]:
    counter = itertools.count()
    denials: list[Denial] = []
    return Router(uid_factory=lambda: f"gen-{next(counter)}", on_denial=denials.append), denials


def _submit(router: Router, client: Client, data: bytes, now: int = NOW) -> int:
    return router.submit(client.sub, parse_event(data), data, now)


def test_a_spoofed_position_is_not_routed_cached_or_bound() -> None:
    router, denials = _router()
    alice, bob, carol = Client(router, "alice"), Client(router, "bob"), Client(router, "carol")
    real = _pli("A-1", "ALPHA")
    _submit(router, alice, real)
    assert _submit(router, bob, _pli("A-1", "ALPHA", "2023-11-14T22:14:00.000Z")) == 0
    assert _submit(router, bob, _pli("B-1", "alpha")) == 0
    assert carol.uids == ["A-1"]
    entry = router.cache.get("A-1")
    assert entry is not None
    assert entry.message.xml == real, "the owner's cached position is never overwritten"
    assert "B-1" not in router.cache
    assert bob.sub.uid is None
    assert router.counters.get("spoofing_refused") == 2
    assert [(d.kind, d.sender.identity, d.subject, d.other) for d in denials] == [
        ("spoofing_refused", "bob", "A-1", "alice"),
        ("spoofing_refused", "bob", "alpha", "alice"),
    ]


def test_repeated_refusals_are_counted_but_reported_once_a_minute() -> None:
    router, denials = _router()
    alice, bob = Client(router, "alice"), Client(router, "bob")
    _submit(router, alice, _pli("A-1", "ALPHA"))
    for offset in (0, 1000, REPORT_INTERVAL_MS - 1, REPORT_INTERVAL_MS):
        _submit(router, bob, _marker("A-1", "x"), NOW + offset)
    assert router.counters.get("spoofing_refused") == 4
    assert len(denials) == 2


def test_ownership_survives_the_owners_reconnect() -> None:
    router, _ = _router()
    alice = Client(router, "alice")
    _submit(router, alice, _pli("A-1", "ALPHA"))
    router.detach(alice.sub, NOW)
    bob = Client(router, "bob")
    assert _submit(router, bob, _pli("A-1", "ALPHA")) == 0
    alice_again = Client(router, "alice")
    assert _submit(router, alice_again, _pli("A-1", "ALPHA")) == 1
    assert bob.uids == ["A-1"]  # only the rightful owner's position reached bob


def test_an_anonymous_owner_is_the_connection_and_its_claims_end_with_it() -> None:
    router, _ = _router()
    first = Subscriber(lambda: None, transport="tcp", address="10.0.0.2:1", owner="tcp#1")
    second = Subscriber(lambda: None, transport="tcp", address="10.0.0.2:2", owner="tcp#2")
    router.attach(first, NOW)
    router.attach(second, NOW)
    pli = _pli("ANON-1", "ANON")
    router.submit(first, parse_event(pli), pli, NOW)
    assert router.submit(second, parse_event(pli), pli, NOW) == 0
    router.detach(first, NOW)
    assert router.ownership.uid_owner("ANON-1") is None
    assert router.submit(second, parse_event(pli), pli, NOW) == 0  # nobody else is left to receive it
    assert router.ownership.uid_owner("ANON-1") == "tcp#2"


def test_a_delete_of_another_owners_marker_is_refused() -> None:
    router, _ = _router()
    alice, bob, carol = Client(router, "alice"), Client(router, "bob"), Client(router, "carol")
    _submit(router, alice, _marker("M-1", "rally point"))
    assert _submit(router, bob, _delete("M-1")) == 0
    assert "M-1" in router.cache
    assert carol.uids == ["M-1"]
    assert _submit(router, alice, _delete("M-1")) == 2
    assert "M-1" not in router.cache


@pytest.mark.parametrize(
    "look_alike",
    [
        "\u0410LPHA",
        "AL\u200bPHA",
        "\uff21\uff2c\uff30\uff28\uff21",
        "\u0391L\u03a1\u0397\u0391",
        "A\u0301LPHA",
        " alpha ",
    ],
    ids=["cyrillic_a", "zero_width_space", "full_width", "greek", "combining_accent", "case_and_blanks"],
)
def test_a_look_alike_callsign_belongs_to_the_owner_of_the_original(look_alike: str) -> None:
    assert skeleton(look_alike) == skeleton("ALPHA")
    table = OwnershipTable()
    assert table.admit("alice", _event(_pli("ALICE-1", "ALPHA"))) is None
    refusal = table.admit("mallory", _event(_pli("MALLORY-1", look_alike)))
    assert refusal == Refusal("callsign", look_alike, "alice")


def test_distinct_callsigns_keep_distinct_skeletons() -> None:
    assert len({skeleton(name) for name in ("ALPHA", "BRAVO", "ALPHA-2", "ALPHA 2", "DELTA")}) == 5

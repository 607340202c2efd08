"""The alert board: only whoever raised an alert stops it."""

from rallypoint.cot.xml import parse_event
from rallypoint.router.alerts import AlertBoard

WHEN = "2024-05-01T12:00:00.000Z"
GROUPS = frozenset({"ops"})


def _event(uid: str, cot_type: str, detail: str) -> bytes:
    return (
        f'<event version="2.0" uid="{uid}" type="{cot_type}" how="h-e" time="{WHEN}" start="{WHEN}"'
        f' stale="{WHEN}"><point lat="1" lon="2"/><detail>{detail}</detail></event>'
    ).encode()


ALERT = parse_event(
    _event(
        "DEV-9-1-1", "b-a-o-tbl", '<link uid="DEV" relation="p-p"/><emergency type="911 Alert">X</emergency>'
    )
)
LINKED_CANCEL = parse_event(
    _event("OTHER", "b-a-o-can", '<link uid="DEV" relation="p-p"/><emergency cancel="true">X</emergency>')
)
SAME_UID_CANCEL = parse_event(_event("DEV-9-1-1", "b-a-o-can", '<emergency cancel="true">X</emergency>'))


def test_a_cancel_from_someone_else_is_foreign_and_stops_nothing() -> None:
    board = AlertBoard()
    assert board.observe(ALERT, GROUPS, sender_id=1, now_ms=0, owner="identity alice") == []
    for cancel in (LINKED_CANCEL, SAME_UID_CANCEL):
        assert board.foreign(cancel, "identity mallory", 2) == ["DEV-9-1-1"]
        assert board.observe(cancel, GROUPS, sender_id=2, now_ms=0, owner="identity mallory") == []
    assert len(board) == 1


def test_the_raiser_cancels_by_identity_or_by_connection() -> None:
    board = AlertBoard()
    board.observe(ALERT, GROUPS, sender_id=1, now_ms=0, owner="connection #1")
    assert board.foreign(LINKED_CANCEL, "device DEV", 1) == [], "the same connection, bound since"
    assert board.observe(LINKED_CANCEL, GROUPS, sender_id=1, now_ms=0, owner="device DEV") == ["DEV-9-1-1"]
    board.observe(ALERT, GROUPS, sender_id=3, now_ms=0, owner="identity alice")
    assert board.observe(SAME_UID_CANCEL, GROUPS, sender_id=4, now_ms=0, owner="identity alice") == [
        "DEV-9-1-1"
    ]
    assert len(board) == 0


def test_re_sending_anothers_alert_does_not_take_it_over() -> None:
    board = AlertBoard()
    board.observe(ALERT, GROUPS, sender_id=1, now_ms=0, owner="identity alice")
    board.observe(ALERT, GROUPS, sender_id=2, now_ms=0, owner="identity mallory")
    assert board.foreign(SAME_UID_CANCEL, "identity alice", 9) == []

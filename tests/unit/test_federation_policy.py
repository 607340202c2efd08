"""The federation policy: what may leave and enter, and the one-line refusals of a bad table."""

import pytest

from rallypoint.errors import ConfigError
from rallypoint.federation.policy import kind_of, parse_policy

TABLE = {
    "site": "alpha",
    "remotes": [
        {
            "site": "bravo",
            "outbound": {"groups": ["blue"], "kinds": ["positions", "chat"]},
            "inbound": {"groups": {"bravo-blue": "blue"}, "kinds": ["positions", "chat", "emergencies"]},
        }
    ],
}


def test_only_allowed_groups_and_kinds_leave() -> None:
    (bravo,) = parse_policy(TABLE).remotes
    assert bravo.leaving("a-f-G", frozenset({"blue", "red"})) == {"blue"}
    assert bravo.leaving("b-t-f", frozenset({"red"})) == frozenset()
    assert bravo.leaving("b-a-o-tbl", frozenset({"blue"})) == frozenset()


def test_remote_groups_are_mapped_and_unmapped_ones_never_enter() -> None:
    (bravo,) = parse_policy(TABLE).remotes
    assert bravo.entering("a-f-G", frozenset({"bravo-blue"})) == {"blue"}
    assert bravo.entering("a-f-G", frozenset({"secret"})) == frozenset()
    assert bravo.entering("t-x-m-c", frozenset({"bravo-blue"})) == frozenset()


def test_kinds() -> None:
    types = (
        "a-f-G-U-C",
        "b-t-f",
        "b-a-o-tbl",
        "t-x-m-c",
        "t-x-d-d",
        "b-m-p-s-m",
        "b-m-p-w",
        "u-d-f",
        "u-d-r",
        "u-d-c-c",
        "u-rb-a",
        "u-d-p",
        "b-i-v",
        "u-x",
    )
    assert [kind_of(t) for t in types] == [
        "positions", "chat", "emergencies", "missions", "positions", "markers", "markers", "drawings",
        "drawings", "drawings", "drawings", "drawings", None, None,
    ]  # fmt: skip


OBJECTIVE_DETAIL = '<remarks>Clear the road</remarks><__objective id="o1" state="assigned"/>'


def test_a_mission_objective_is_its_own_kind_whether_point_or_area() -> None:
    assert kind_of("b-m-p-s-p-i", OBJECTIVE_DETAIL) == "objectives"
    assert kind_of("u-d-f", OBJECTIVE_DETAIL) == "objectives"
    assert kind_of("b-m-p-s-p-i") == "markers"  # the same point type placed by hand is a marker
    assert kind_of("a-f-G", OBJECTIVE_DETAIL) == "positions"


def test_markers_drawings_and_objectives_cross_only_when_named() -> None:
    table = {
        "site": "alpha",
        "remotes": [
            {
                "site": "bravo",
                "outbound": {"groups": ["blue"], "kinds": ["markers", "objectives"]},
                "inbound": {"groups": {"blue": "blue"}, "kinds": ["drawings"]},
            }
        ],
    }
    (bravo,) = parse_policy(table).remotes
    blue = frozenset({"blue"})
    assert bravo.leaving("b-m-p-s-m", blue) == blue
    assert bravo.leaving("u-d-f", blue, OBJECTIVE_DETAIL) == blue
    assert bravo.leaving("u-d-f", blue) == frozenset()  # a drawing is not let out
    assert bravo.entering("u-rb-a", blue) == blue
    assert bravo.entering("b-m-p-s-m", blue) == frozenset()
    assert bravo.entering("u-d-f", blue, OBJECTIVE_DETAIL) == frozenset()


@pytest.mark.parametrize(
    "table",
    [
        {},
        {"site": "alpha"},
        {"site": "alpha", "remotes": [{"site": "bravo", "transport": "tak-v1"}]},
        {"site": "alpha", "remotes": [{"site": "bravo", "outbound": {"kinds": ["files"]}}]},
        {"site": "alpha", "remotes": [{"site": "bravo", "inbound": {"groups": ["x"]}}]},
    ],
)
def test_a_bad_table_is_refused_in_one_line(table: dict[str, object]) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_policy(table)
    assert "\n" not in str(refused.value)

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
    assert [kind_of(t) for t in ("a-f-G-U-C", "b-t-f", "b-a-o-tbl", "t-x-m-c", "t-x-d-d", "u-d-p")] == [
        "positions", "chat", "emergencies", "missions", "positions", None,
    ]  # fmt: skip


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

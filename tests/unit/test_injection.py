"""The injection table and its element check, without a server: what is injected, into whose
events, and what is refused before it could reach a receiver."""

import pytest

from rallypoint.cot.xml import parse_event, serialize_event
from rallypoint.errors import ProtocolError
from rallypoint.router.injection import MAX_FRAGMENT_CHARS, Injection, InjectionTable, injected_element
from tests.interop.clients import pli_xml

OPS = frozenset({"ops"})


def table_with(*injections: Injection) -> InjectionTable:
    table = InjectionTable()
    for injection in injections:
        table.add(injection)
    return table


def test_the_element_is_kept_as_written_by_the_server_and_listed_as_tak_lists_it() -> None:
    element = injected_element("__video   url='rtsp://cam/1?a=1&amp;b=2'")
    injection = Injection("cam", element, OPS, "root", 0)
    assert element == '<__video url="rtsp://cam/1?a=1&amp;b=2"/>'
    assert injection.to_inject == '__video url="rtsp://cam/1?a=1&amp;b=2"'


@pytest.mark.parametrize(
    "text",
    [
        "",
        "x" * (MAX_FRAGMENT_CHARS + 1),
        "a b",
        "a x='<'",
        "!ENTITY x 'y'",
        "a x='&e;'",
        "link uid='x'",
        "Marti",
    ],
)
def test_what_is_not_one_safe_element_is_refused(text: str) -> None:
    with pytest.raises(ProtocolError):
        injected_element(text)


def test_an_injector_applies_to_its_uid_from_senders_in_its_groups_only() -> None:
    table = table_with(
        Injection("cam", '<remarks a="1"/>', OPS, None, 0),
        Injection("cam", '<remarks a="2"/>', frozenset({"other"}), None, 1),
    )
    event = parse_event(pli_xml("cam", "Cam"))
    from_ops = table.apply(event, frozenset({"ops", "x"}))
    assert from_ops.detail is not None
    assert event.detail is not None
    assert from_ops.detail.xml == event.detail.xml + '<remarks a="1"/>'
    assert b'<remarks a="1"/></detail>' in serialize_event(from_ops)
    assert table.apply(event, frozenset({"x"})) is event
    assert (
        table.apply(parse_event(pli_xml("else", "E")), OPS).detail == parse_event(pli_xml("else", "E")).detail
    )


def test_removing_the_last_injector_of_a_uid_empties_the_table() -> None:
    injection = Injection("cam", "<remarks/>", OPS, None, 0)
    table = table_with(injection)
    assert (len(table), table.find("cam", "<remarks/>"), table.active) == (1, injection, True)
    table.remove(injection)
    assert (len(table), table.all(), table.active) == (0, [], False)

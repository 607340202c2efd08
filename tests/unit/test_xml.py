"""CoT XML codec: real messages round-trip, routing fields are read, hostile XML is refused."""

import contextlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rallypoint.cot.event import Event, Point
from rallypoint.cot.xml import (
    XmlLimits,
    detail_elements,
    frame_safe_detail,
    is_frame_safe,
    parse_detail,
    parse_event,
    serialize_event,
    without_marti,
)
from rallypoint.errors import ForbiddenXml, FrameTooLarge, InvalidEvent, MalformedXml, ProtocolError
from tests.conftest import EVENT_FIXTURES, FIXTURES, fixture_bytes

pytestmark = pytest.mark.usefixtures("hot_path")
"""Every test here runs against the pure-Python hot path and its native twin."""


@pytest.mark.parametrize("path", EVENT_FIXTURES, ids=lambda p: p.name)
def test_every_fixture_round_trips(path: Path) -> None:
    event = parse_event(path.read_bytes())
    again = parse_event(serialize_event(event))
    assert again == event


@pytest.mark.parametrize("path", EVENT_FIXTURES, ids=lambda p: p.name)
def test_every_detail_child_is_kept(path: Path) -> None:
    from lxml import etree

    original = etree.fromstring(path.read_bytes()).find("detail")
    event = parse_event(path.read_bytes())
    tags = [element.tag for element in detail_elements(event.detail)] if event.detail else []
    assert tags == ([child.tag for child in original] if original is not None else [])


def test_pli_fields() -> None:
    event = parse_event(fixture_bytes("pli_atak_civ4_taky.xml"))
    assert event.uid == "ANDROID-deadbeef"
    assert event.type == "a-f-G-U-C"
    assert event.how == "m-g"
    assert event.time == 1614457944771
    assert event.stale - event.time == 375_000
    assert event.point == Point(1.234567, -3.141592, -25.7, 9.9, 9999999.0)
    assert event.detail is not None
    assert event.detail.contact is not None
    assert event.detail.contact.callsign == "JENNY"
    assert event.detail.contact.endpoint == "*:-1:stcp"
    assert event.detail.group is not None
    assert (event.detail.group.name, event.detail.group.role) == ("Cyan", "Team Member")
    assert event.is_situational_awareness


def test_directed_chat_fields() -> None:
    event = parse_event(fixture_bytes("geochat_direct_marti_dest.xml"))
    assert event.detail is not None
    assert event.detail.has_marti
    assert [dest.callsign for dest in event.detail.dests] == ["JOKER MAN"]
    chat = event.detail.chat
    assert chat is not None
    assert (chat.chatroom, chat.chat_id, chat.parent) == ("JOKER MAN", "ANDROID-cafebabe", "RootContactGroup")
    assert chat.participants == ("ANDROID-deadbeef", "ANDROID-cafebabe")
    assert [link.uid for link in event.detail.links] == ["ANDROID-deadbeef"]
    assert not event.is_situational_awareness


def test_empty_marti_is_a_broadcast() -> None:
    event = parse_event(fixture_bytes("marker_itak_empty_marti.xml"))
    assert event.detail is not None
    assert event.detail.has_marti
    assert event.detail.dests == ()


def test_emergency_fields() -> None:
    event = parse_event(fixture_bytes("emergency_911_alert.xml"))
    assert event.detail is not None
    assert event.detail.emergency is not None
    assert event.detail.emergency.type == "911 Alert"
    assert event.detail.emergency.callsign == "BOB"
    assert not event.detail.emergency.cancel


def test_negotiation_templates_are_read() -> None:
    offer = (FIXTURES / "templates" / "takp_v_support_spec.xml").read_bytes()
    detail = parse_detail(offer.split(b"<detail>")[1].split(b"</detail>")[0].decode())
    assert detail.control is not None
    assert detail.control.supported_versions == ("1",)


def test_strip_marti_removes_only_marti() -> None:
    event = parse_event(fixture_bytes("geochat_direct_marti_dest.xml"))
    stripped = without_marti(event)
    assert stripped.detail is not None
    assert not stripped.detail.has_marti
    assert b"marti" not in serialize_event(stripped)
    assert b"__chat" in serialize_event(stripped)
    assert serialize_event(event, strip_marti=True) == serialize_event(stripped)


def test_declaration_and_single_quotes_are_accepted() -> None:
    event = parse_event(fixture_bytes("route_atak.xml"))
    assert event.type == "b-m-r"
    assert len(event.detail.links if event.detail else ()) == 13


def test_times_with_any_fraction_length() -> None:
    base = b'<event version="2.0" uid="u" type="a-f-G" how="m-g" time="%s" start="%s" stale="%s"><point lat="0" lon="0"/></event>'
    for text, millis in [
        (b"2020-02-08T18:10:44Z", 1581185444000),
        (b"2020-02-08T18:10:44.1Z", 1581185444100),
        (b"2020-02-08T18:10:44.00Z", 1581185444000),
        (b"2020-02-08T18:10:44.677083Z", 1581185444677),
    ]:
        assert parse_event(base % (text, text, text)).time == millis


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<event version="2.0" uid="&lol2;" type="a" how="m" time="2020-01-01T00:00:00Z" start="2020-01-01T00:00:00Z"
 stale="2020-01-01T00:00:00Z"><point lat="0" lon="0"/></event>"""

XXE = b"""<?xml version="1.0"?><!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]>
<event version="2.0" uid="&x;" type="a" how="m" time="2020-01-01T00:00:00Z" start="2020-01-01T00:00:00Z"
 stale="2020-01-01T00:00:00Z"><point lat="0" lon="0"/></event>"""


@pytest.mark.parametrize("data", [BILLION_LAUGHS, XXE, b"<!doctype event><event/>"])
def test_doctype_is_refused_before_parsing(data: bytes) -> None:
    with pytest.raises(ForbiddenXml):
        parse_event(data)


def test_undefined_entity_is_not_expanded() -> None:
    data = b'<event version="2.0" uid="&x;" type="a" how="m" time="2020-01-01T00:00:00Z" start="2020-01-01T00:00:00Z" stale="2020-01-01T00:00:00Z"><point lat="0" lon="0"/></event>'
    with pytest.raises(MalformedXml):
        parse_event(data)


def test_size_cap() -> None:
    data = fixture_bytes("route_atak.xml")
    with pytest.raises(FrameTooLarge):
        parse_event(data, XmlLimits(max_event_bytes=1000))


def test_depth_cap() -> None:
    nested = b"<a>" * 40 + b"</a>" * 40
    data = (
        b'<event version="2.0" uid="u" type="a-f-G" how="m-g" time="2020-01-01T00:00:00Z"'
        b' start="2020-01-01T00:00:00Z" stale="2020-01-01T00:00:00Z"><point lat="0" lon="0"/><detail>'
        + nested
        + b"</detail></event>"
    )
    with pytest.raises(MalformedXml):
        parse_event(data)
    assert parse_event(data, XmlLimits(max_depth=64)).detail is not None


@pytest.mark.parametrize(
    "data",
    [
        b"<event/>",
        b'<event uid="u" type="a" time="x" start="x" stale="x"><point lat="0" lon="0"/></event>',
        b'<event uid="u" type="a" time="2020-01-01T00:00:00Z" stale="2020-01-01T00:00:00Z"/>',
        b'<event uid="u" type="a" time="2020-01-01T00:00:00Z" stale="2020-01-01T00:00:00Z"><point lat="91" lon="0"/></event>',
        b'<event uid="u" type="a" time="2020-01-01T00:00:00Z" stale="2020-01-01T00:00:00Z"><point lat="nan" lon="0"/></event>',
        b"<notevent/>",
    ],
)
def test_invalid_events_are_typed_errors(data: bytes) -> None:
    with pytest.raises(InvalidEvent):
        parse_event(data)


def test_malformed_fixture_is_refused() -> None:
    with pytest.raises(MalformedXml):
        parse_event((FIXTURES / "malformed" / "delete_forcedelete_atak_javadoc.xml").read_bytes())


@given(st.binary(max_size=300))
def test_random_bytes_raise_only_protocol_errors(data: bytes) -> None:
    with contextlib.suppress(ProtocolError):
        parse_event(data)


_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=20)
_coordinate = st.floats(-90, 90, allow_nan=False)
_millis = st.integers(0, 253402300799999)


@st.composite
def events(draw: st.DrawFn) -> Event:
    """Random events whose detail mixes routing elements and unknown ones."""
    children = draw(
        st.lists(
            st.sampled_from(
                [
                    '<contact callsign="%s" endpoint="*:-1:stcp"/>',
                    '<__group name="%s" role="HQ"/>',
                    "<remarks>%s</remarks>",
                    '<unknown_thing a="%s"><nested b="1"/></unknown_thing>',
                    '<link uid="%s" type="a-f-G" relation="p-p"/>',
                ]
            ),
            max_size=5,
        )
    )
    from rallypoint.cot.xml import escape_attribute

    xml = "".join(child % escape_attribute(draw(_text)) for child in children)
    return Event(
        uid=draw(_text),
        type=draw(st.sampled_from(["a-f-G-U-C", "b-m-p-s-m", "u-d-f", "b-t-f"])),
        how=draw(st.sampled_from(["m-g", "h-e", "h-g-i-g-o"])),
        time=draw(_millis),
        start=draw(_millis),
        stale=draw(_millis),
        point=Point(
            draw(_coordinate), draw(st.floats(-180, 180, allow_nan=False)), draw(st.floats(-1e6, 1e7))
        ),
        detail=parse_detail(xml) if children or draw(st.booleans()) else None,
        access=draw(st.none() | _text),
    )


@given(events())
def test_generated_events_round_trip(event: Event) -> None:
    assert parse_event(serialize_event(event)) == event


def test_detail_quoting_an_end_tag_is_reserialised_so_no_splitter_cuts_it() -> None:
    quoted = "<remarks><![CDATA[</event><event uid='V'>]]></remarks><!-- </event> --><?pi </event>?>"
    safe = frame_safe_detail(quoted)
    assert safe == "<remarks>&lt;/event&gt;&lt;event uid='V'&gt;</remarks>"
    when = "2024-01-01T00:00:00Z"
    head = f'<event uid="A" type="a" time="{when}" start="{when}" stale="{when}"><point/>'
    data = f"{head}<detail>{quoted}</detail></event>"
    event = parse_event(data.encode())
    assert event.detail is not None
    assert event.detail.xml == safe
    assert not is_frame_safe(data.encode())
    assert serialize_event(event).count(b"</event") == 1
    assert frame_safe_detail("<remarks>plain</remarks>") == "<remarks>plain</remarks>"


def test_event_element_inside_detail_is_refused() -> None:
    with pytest.raises(InvalidEvent, match="holds an <event>"):
        frame_safe_detail('<link/><x><event uid="V"/></x>')

"""TAK protocol negotiation state machine and the control messages it produces."""

from rallypoint.cot import control
from rallypoint.cot.negotiation import Negotiator, WireFormat
from rallypoint.cot.xml import parse_event, serialize_event
from tests.conftest import FIXTURES

NOW = 1_700_000_000_000


def test_offer_matches_the_reference_shape() -> None:
    negotiator = Negotiator("offer-uid", "Rallypoint test")
    offer = parse_event(serialize_event(negotiator.offer(NOW)))
    template = parse_event(
        (FIXTURES / "templates" / "takp_v_support_spec.xml")
        .read_bytes()
        .replace(b"TIME", b"2020-01-01T00:00:00Z")
    )
    assert (offer.type, offer.how) == (template.type, template.how)
    assert offer.uid == "offer-uid"
    assert offer.stale - offer.time == 60_000
    assert offer.detail is not None
    assert offer.detail.control is not None
    assert offer.detail.control.supported_versions == ("1",)


def test_request_for_version_1_switches_to_protobuf() -> None:
    negotiator = Negotiator("offer-uid", "x")
    negotiator.offer(NOW)
    request = parse_event(serialize_event(control.protocol_request("offer-uid", NOW)))
    reply = negotiator.handle(request, NOW + 1)
    assert reply is not None
    assert reply.switch_to is WireFormat.PROTOBUF
    assert negotiator.format is WireFormat.PROTOBUF
    response = parse_event(serialize_event(reply.response))
    assert response.type == "t-x-takp-r"
    assert response.uid == "offer-uid"
    assert response.detail is not None
    assert response.detail.control is not None
    assert response.detail.control.response_status is True


def test_request_for_unknown_version_is_refused_and_stays_xml() -> None:
    negotiator = Negotiator("u", "x")
    reply = negotiator.handle(control.protocol_request("u", NOW, version="2"), NOW)
    assert reply is not None
    assert reply.switch_to is None
    assert reply.response.detail is not None
    assert reply.response.detail.control is not None
    assert reply.response.detail.control.response_status is False
    assert negotiator.format is WireFormat.XML


def test_other_events_are_not_negotiation() -> None:
    assert Negotiator("u", "x").handle(control.pong(NOW), NOW) is None


def test_pong_and_disconnect_shapes() -> None:
    pong = parse_event(serialize_event(control.pong(NOW)))
    assert (pong.uid, pong.type, pong.how, pong.stale - pong.time) == (
        "takPong",
        "t-x-c-t-r",
        "h-g-i-g-o",
        20_000,
    )
    delete = parse_event(serialize_event(control.disconnect_delete("d", NOW, "ANDROID-1", "a-f-G-U-C")))
    assert delete.type == "t-x-d-d"
    assert delete.detail is not None
    assert delete.detail.links[0].uid == "ANDROID-1"

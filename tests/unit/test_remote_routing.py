"""Events routed on one node, routed again on another (``router.remote``): two routers, no sockets.

Node 1's router publishes into node 2's :class:`Peers` the way the cluster bus does (the
event's XML with its ``marti``, and who sent it), so these are the routing decisions of
cluster mode without NATS.
"""

import pytest

from rallypoint.cluster.envelope import KIND_SEND_TO, decode, encode_headers
from rallypoint.cot.xml import parse_event, serialize_event
from rallypoint.errors import ClusterError
from rallypoint.router.message import Outbound
from rallypoint.router.registry import Subscriber
from rallypoint.router.remote import Peers, RemoteSender, describe_sender
from rallypoint.router.router import Router
from tests.unit.test_router import NOW, Client, _pli, _submit


class Link:
    """Node 1 publishes into node 2, as the bus would; node 2 publishes nothing of what it gets."""

    def __init__(self) -> None:
        self.one, self.two = Router(), Router()
        self.peers = Peers(self.two)
        self.republished: list[Outbound] = []
        self.one.on_publish = self._cross
        self.two.on_publish = lambda message, _sender, _departed: self.republished.append(message)

    def _cross(self, message: Outbound, sender: Subscriber, departed: bool) -> None:
        payload = serialize_event(message.event)
        envelope = decode(encode_headers("m-1", describe_sender(sender, "node1"), departed=departed), payload)
        event = parse_event(envelope.payload)
        if departed:
            self.peers.departed(envelope.sender, event, NOW)
        else:
            self.peers.route(envelope.sender, event, payload, NOW)


def _chat_to(sender_uid: str, callsign: str) -> bytes:
    return (
        f'<event version="2.0" uid="GeoChat.{sender_uid}.{callsign}.1" type="b-t-f" how="h-g-i-g-o"'
        ' time="2023-11-14T22:13:20.000Z" start="2023-11-14T22:13:20.000Z" stale="2099-01-01T00:00:00.000Z">'
        f'<point lat="1" lon="2"/><detail><__chat chatroom="{callsign}" id="{callsign}" senderCallsign="A"/>'
        f'<marti><dest callsign="{callsign}"/></marti></detail></event>'
    ).encode()


def test_groups_isolate_across_nodes_and_nothing_is_republished() -> None:
    link = Link()
    red_sender = Client(link.one, ("red",))
    red, blue = Client(link.two, ("red",)), Client(link.two, ("blue",))
    _submit(link.one, red_sender, _pli("RED-1", "rudy"))
    assert red.uids == ["RED-1"]
    assert blue.uids == []
    assert link.republished == []
    late_blue = Client(link.two, ("blue",))
    late_red = Client(link.two, ("red",))
    assert late_blue.uids == []
    assert late_red.uids == ["RED-1"]  # node 2's cache holds node 1's picture


def test_a_direct_message_to_a_device_on_another_node_is_neither_bounced_nor_kept() -> None:
    link = Link()
    kept: list[str] = []
    elsewhere: list[tuple[str, Subscriber]] = []
    link.one.on_absent = lambda uid, _message, _sender: kept.append(uid) is None
    link.one.on_elsewhere = lambda message, sender: elsewhere.append((message.event.uid, sender))
    alpha = Client(link.one)
    bravo, charlie = Client(link.two), Client(link.two)
    _submit(link.one, alpha, _pli("ALPHA-1", "ALPHA"))
    link.two.registry.bind(bravo.sub, "BRAVO-1", "BRAVO")  # bravo announced itself on node 2 ...
    node1_peers = Peers(link.one)  # ... and node 1 heard of it over the bus
    node1_peers.route(describe_sender(bravo.sub, "node2"), parse_event(_pli("BRAVO-1", "BRAVO")), None, NOW)
    _submit(link.one, alpha, _chat_to("ALPHA-1", "BRAVO"))
    assert [m.event.type for m in alpha.received if m.event.type.startswith("b-t-f")] == []
    assert kept == []
    assert elsewhere == [("GeoChat.ALPHA-1.BRAVO.1", alpha.sub)]  # the bus answers it once stored
    assert [m.event.type for m in bravo.received] == ["a-f-G-U-C", "b-t-f"]
    assert [m.event.type for m in charlie.received] == ["a-f-G-U-C"]


def test_a_departure_deletes_the_remote_device_here() -> None:
    link = Link()
    alpha = Client(link.one)
    bravo = Client(link.two)
    _submit(link.one, alpha, _pli("ALPHA-1", "ALPHA"))
    assert "ALPHA-1" in link.two.cache
    assert link.two.devices.get("ALPHA-1").node == "node1"  # type: ignore[union-attr]
    link.one.detach(alpha.sub, NOW + 1)
    assert bravo.types == ["a-f-G-U-C", "t-x-d-d"]
    assert "ALPHA-1" not in link.two.cache
    assert not link.two.devices.get("ALPHA-1").connected  # type: ignore[union-attr]
    assert len(link.peers) == 0


def test_envelopes_not_ours_are_refused() -> None:
    sender = RemoteSender("n", 1, None, None, None, None, frozenset({"a"}), frozenset({"a"}))
    headers = encode_headers("id", sender, departed=False)
    assert decode(headers, b"x").sender == sender
    for bad in ({}, {**headers, "Rallypoint-Meta": "{"}, {**headers, "Rallypoint-Meta": '{"v":2}'}):
        with pytest.raises(ClusterError):
            decode(bad, b"x")


def test_a_silent_node_s_devices_are_taken_as_departed_here() -> None:
    link = Link()
    alpha, marker_only = Client(link.one), Client(link.one)
    bravo = Client(link.two)
    _submit(link.one, alpha, _pli("ALPHA-1", "ALPHA"))
    _submit(link.one, marker_only, _pli("OTHER-1", "OTHER"))
    assert link.peers.node_lost("node1", NOW + 1) == 2
    deletes = [m.event for m in bravo.received if m.event.type == "t-x-d-d"]
    assert sorted(e.detail.links[0].uid for e in deletes if e.detail) == [
        "ALPHA-1",
        "OTHER-1",
    ]
    assert "ALPHA-1" not in link.two.cache
    assert not link.two.devices.get("ALPHA-1").connected  # type: ignore[union-attr]
    assert link.peers.node_lost("node1", NOW + 2) == 0


def test_a_send_to_envelope_names_its_node_and_device() -> None:
    server = RemoteSender("node1", 0, None, None, None, None, frozenset(), frozenset())
    headers = encode_headers("m-9", server, departed=False, kind=KIND_SEND_TO, to=("node2", "BRAVO-1"))
    assert decode(headers, b"<event/>").to == ("node2", "BRAVO-1")
    without = encode_headers("m-10", server, departed=False, kind=KIND_SEND_TO)
    with pytest.raises(ClusterError):
        decode(without, b"<event/>")

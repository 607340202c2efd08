"""Cluster mode (issue 17): several nodes on one NATS JetStream and one PostgreSQL, in one test.

Every node is a real server in the test's loop with its own streaming port; NATS is a real
``nats-server -js`` (``tests.cluster_support``), PostgreSQL a real database. Negative checks
do not sleep: each node reads the one stream in order, so a marker broadcast after the event
in question and received on the other node proves that event was routed there before it.
"""

import asyncio
import json
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from rallypoint.config import Settings
from rallypoint.cot.xml import parse_event
from rallypoint.http.command_post.auth import Session
from rallypoint.http.command_post.live import LiveHub, LiveSocket
from tests.cluster_support import (
    NatsServer,
    bus_down,
    bus_ready,
    cluster_name,
    cluster_store,
    delete_stream,
    nats_server,
    nats_url,
    node_settings,
    postgres_url,
    start_node,
    stop_nodes,
)
from tests.conftest import PkiFixture, RunningServer, TlsClients
from tests.interop.clients import (
    ClientPool,
    TakClient,
    chat_xml,
    delete_xml,
    event_xml,
    eventually,
    has_type,
    has_uid,
    marker_xml,
    pli_xml,
    sync,
)
from tests.waiting import EVENT_TIMEOUT_S

__all__ = ["cluster_store", "nats_server", "nats_url", "postgres_url"]  # fixtures


class Cluster:
    """Nodes started on demand, all stopped at the end of the test."""

    def __init__(self, base: Settings, nats_url: str, store_url: str, root: Path) -> None:
        self.base, self.nats_url, self.store_url, self.root = base, nats_url, store_url, root
        self.name = cluster_name()
        self.nodes: list[RunningServer] = []

    async def stop(self) -> None:
        await stop_nodes(self.nodes)
        await delete_stream(self.nats_url, self.name)

    async def start(self, name: str, data_dir: Path | None = None) -> RunningServer:
        settings = node_settings(
            self.base, self.name, name, self.nats_url, self.store_url, data_dir or self.root / name
        )
        node = await start_node(settings)
        self.nodes.append(node)
        return node


@pytest.fixture
async def cluster(
    server_settings: Settings, nats_url: str, cluster_store: str, tmp_path: Path
) -> AsyncIterator[Cluster]:
    """Nodes on NATS (CI's, or one of the test's own) and one fresh PostgreSQL database."""
    nodes = Cluster(server_settings, nats_url, cluster_store, tmp_path)
    try:
        yield nodes
    finally:
        await nodes.stop()


@pytest.fixture
async def own_nats_cluster(
    server_settings: Settings, nats_server: NatsServer, cluster_store: str, tmp_path: Path
) -> AsyncIterator[Cluster]:
    """Nodes on a NATS server of the test's own, which it may stop and start again."""
    nodes = Cluster(server_settings, nats_server.url, cluster_store, tmp_path)
    try:
        yield nodes
    finally:
        await nodes.stop()


def _uids(client: TakClient, prefix: str) -> list[str]:
    return [message.uid for message in client.history if message.uid.startswith(prefix)]


async def test_events_cross_every_node_once_and_in_order(cluster: Cluster) -> None:
    nodes = [await cluster.start(f"node{i}") for i in (1, 2, 3)]
    async with (
        ClientPool(nodes[0].ports.tcp) as one,
        ClientPool(nodes[1].ports.tcp) as two,
        ClientPool(nodes[2].ports.tcp) as three,
    ):
        alpha, bravo, charlie = await one.connect("a"), await two.connect("b"), await three.connect("c")
        sent = [f"ITEM-{n:03d}" for n in range(60)]
        for uid in sent:
            await alpha.send(marker_xml(uid, "ALPHA-1"))
        await sync(alpha, bravo, charlie)
        await bravo.send(marker_xml("FROM-BRAVO", "BRAVO-1"))
        await alpha.receive(has_uid("FROM-BRAVO"))
        await charlie.receive(has_uid("FROM-BRAVO"))
        await sync(charlie, alpha, bravo)
    assert _uids(bravo, "ITEM-") == sent
    assert _uids(charlie, "ITEM-") == sent
    assert _uids(alpha, "ITEM-") == []  # no echo to the sender's node
    assert _uids(alpha, "FROM-") == _uids(charlie, "FROM-") == ["FROM-BRAVO"]
    counters = [node.server.context.counters for node in nodes]
    # node 1 routed 60 markers and a sync marker, nodes 2 and 3 one event each: each crossed once.
    await eventually(lambda: [c.get("cluster_published") for c in counters] == [61, 1, 1], what="published")
    assert [c.get("cluster_received") for c in counters] == [2, 62, 62]
    assert [c.get("cluster_duplicate") for c in counters] == [0, 0, 0]


async def test_directed_chat_emergency_and_delete_reach_another_node(cluster: Cluster) -> None:
    one, two = await cluster.start("node1"), await cluster.start("node2")
    async with ClientPool(one.ports.tcp) as pool1, ClientPool(two.ports.tcp) as pool2:
        alpha = await pool1.connect("alpha")
        bravo, charlie = await pool2.connect("bravo"), await pool2.connect("charlie")
        await bravo.send(pli_xml("BRAVO-1", "BRAVO"))
        await charlie.send(pli_xml("CHARLIE-1", "CHARLIE"))
        await alpha.receive(has_uid("BRAVO-1"))
        await alpha.receive(has_uid("CHARLIE-1"))
        await alpha.send(pli_xml("ALPHA-1", "ALPHA"))
        await bravo.receive(has_uid("ALPHA-1"))
        # By callsign, then by uid: only bravo; alpha is not told "undeliverable".
        await alpha.send(chat_xml("ALPHA-1", "ALPHA", "by callsign", to_callsign="BRAVO"))
        await alpha.send(
            chat_xml("ALPHA-1", "ALPHA", "by uid", to_uid="BRAVO-1", marti='<dest uid="BRAVO-1"/>')
        )
        first = await bravo.receive(lambda m: m.type == "b-t-f")
        second = await bravo.receive(lambda m: m.type == "b-t-f")
        # Bravo answers across the nodes.
        await bravo.send(chat_xml("BRAVO-1", "BRAVO", "roger", to_callsign="ALPHA"))
        reply = await alpha.receive(lambda m: m.type == "b-t-f")
        # An emergency, then a marker and its delete.
        emergency = event_xml(
            "ALPHA-1-9-1-1",
            "b-a-o-tbl",
            '<link uid="ALPHA-1" type="a-f-G-U-C" relation="p-p"/>'
            '<contact callsign="ALPHA-Alert"/><emergency type="911 Alert">ALPHA</emergency>',
        )
        await alpha.send(emergency)
        await charlie.receive(has_uid("ALPHA-1-9-1-1"))
        await alpha.send(marker_xml("MARK-1", "ALPHA-1"))
        await charlie.receive(has_uid("MARK-1"))
        await eventually(lambda: "MARK-1" in two.server.context.router.cache, what="marker cached on node 2")
        await alpha.send(delete_xml("MARK-1"))
        await charlie.receive(has_type("t-x-d-d"))
        await sync(alpha, bravo, charlie)
    assert [first.uid, second.uid] == [u for u in _uids(bravo, "GeoChat.ALPHA-1.")]
    assert _uids(charlie, "GeoChat.ALPHA-1.") == []
    assert reply.uid.startswith("GeoChat.BRAVO-1.")
    assert alpha.seen(has_type("b-t-f-s")) == []
    assert "MARK-1" not in two.server.context.router.cache
    assert len(two.server.context.router.alerts) == 1  # node 2 repeats it to its own clients


async def test_a_late_joiner_on_another_node_gets_the_picture(cluster: Cluster) -> None:
    one, two = await cluster.start("node1"), await cluster.start("node2")
    async with ClientPool(one.ports.tcp) as pool1, ClientPool(two.ports.tcp) as pool2:
        alpha = await pool1.connect("alpha")
        await alpha.send(pli_xml("ALPHA-1", "ALPHA"))
        await alpha.send(marker_xml("MARK-1", "ALPHA-1"))
        watcher = await pool2.connect("watcher")
        await sync(alpha, watcher)
        late = await pool2.connect("late")
        replay = await late.receive_until_offer()
        third = await cluster.start("node3")  # started after the events: from PostgreSQL and the stream
        async with ClientPool(third.ports.tcp) as pool3:
            later = await pool3.connect("later")
            third_replay = await later.receive_until_offer()
    assert {m.uid for m in replay} >= {"ALPHA-1", "MARK-1"}
    assert {m.uid for m in third_replay} >= {"ALPHA-1", "MARK-1"}


async def test_a_departed_device_is_deleted_on_every_node(cluster: Cluster) -> None:
    one, two = await cluster.start("node1"), await cluster.start("node2")
    async with ClientPool(one.ports.tcp) as pool1, ClientPool(two.ports.tcp) as pool2:
        alpha = await pool1.connect("alpha")
        bravo = await pool2.connect("bravo")
        await alpha.send(pli_xml("ALPHA-1", "ALPHA"))
        await bravo.receive(has_uid("ALPHA-1"))
        await alpha.close()
        gone = await bravo.receive(has_type("t-x-d-d"))
    assert "ALPHA-1" in gone.raw.decode()
    assert "ALPHA-1" not in two.server.context.router.cache


async def test_nats_restarted_under_the_cluster(own_nats_cluster: Cluster, nats_server: NatsServer) -> None:
    cluster = own_nats_cluster
    one, two = await cluster.start("node1"), await cluster.start("node2")
    async with ClientPool(one.ports.tcp) as pool1, ClientPool(two.ports.tcp) as pool2:
        alpha, bravo = await pool1.connect("alpha"), await pool2.connect("bravo")
        await sync(alpha, bravo)
        nats_server.stop()
        await eventually(lambda: bus_down(one) and bus_down(two), what="both nodes see NATS gone")
        during = [f"DURING-{n}" for n in range(5)]
        for uid in during:
            await alpha.send(marker_xml(uid, "ALPHA-1"))
        await nats_server.start()
        await eventually(lambda: bus_ready(one) and bus_ready(two), what="both nodes back on NATS")
        after = [f"AFTER-{n}" for n in range(20)]
        for uid in after:
            await alpha.send(marker_xml(uid, "ALPHA-1"))
        await bravo.send(marker_xml("BRAVO-AFTER", "BRAVO-1"))
        await alpha.receive(has_uid("BRAVO-AFTER"))
        await sync(alpha, bravo)
    assert _uids(bravo, "DURING-") == during
    assert _uids(bravo, "AFTER-") == after


async def test_another_groups_client_on_another_node_sees_nothing(
    tls_settings: Settings, pki: PkiFixture, nats_url: str, cluster_store: str
) -> None:
    """Mutual TLS, groups from the identity store the nodes share (one data directory here)."""
    alice, dave = pki.add_user("alice", "red"), pki.add_user("dave", "blue")
    bob, carol, bea = pki.add_user("bob", "red"), pki.add_user("carol", "blue"), pki.add_user("bea", "blue")
    cluster = Cluster(tls_settings, nats_url, cluster_store, pki.data_dir.parent)
    try:
        one = await cluster.start("node1", pki.data_dir)
        two = await cluster.start("node2", pki.data_dir)
        async with TlsClients(one, pki) as on1, TlsClients(two, pki) as on2:
            a, d = await on1.connect(alice), await on1.connect(dave)
            b, c = await on2.connect(bob), await on2.connect(carol)
            await a.send(pli_xml("ALICE-1", "ALPHA"))
            await a.send(marker_xml("RED-MARK", "ALICE-1"))
            await a.send(chat_xml("ALICE-1", "ALPHA", "red only", to_callsign="CHARLIE"))
            await c.send(pli_xml("CAROL-1", "CHARLIE"))
            await b.receive(has_uid("RED-MARK"))
            await d.send(marker_xml("BLUE-MARK", "DAVE-1"))  # after alice's, in the one stream
            await c.receive(has_uid("BLUE-MARK"))
            late_blue = await on2.connect(bea)
            blue_replay = {m.uid for m in late_blue.history}
            await sync(a, b)
    finally:
        await cluster.stop()
    assert not {"ALICE-1", "RED-MARK"} & {m.uid for m in c.history}
    assert not [m for m in c.history if m.type == "b-t-f"]
    assert "BLUE-MARK" in blue_replay
    assert not {"ALICE-1", "RED-MARK"} & blue_replay
    assert "BLUE-MARK" not in {m.uid for m in b.history}


async def test_mail_kept_on_one_node_is_delivered_when_the_device_returns_on_another(
    cluster: Cluster,
) -> None:
    one, two = await cluster.start("node1"), await cluster.start("node2")
    async with ClientPool(one.ports.tcp) as pool1, ClientPool(two.ports.tcp) as pool2:
        alpha, bravo = await pool1.connect("alpha"), await pool2.connect("bravo")
        await alpha.send(pli_xml("ALPHA-1", "ALPHA"))
        await bravo.send(pli_xml("BRAVO-1", "BRAVO"))
        await alpha.receive(has_uid("BRAVO-1"))
        await bravo.close()
        await alpha.receive(has_type("t-x-d-d"))
        texts = [f"while away {n}" for n in range(3)]
        for text in texts:
            await alpha.send(chat_xml("ALPHA-1", "ALPHA", text, to_callsign="BRAVO"))
        pending = [await alpha.receive(has_type("b-t-f-p")) for _ in texts]
        returned = await pool2.connect("bravo again")
        await returned.send(pli_xml("BRAVO-1", "BRAVO"))
        try:
            mail = [await returned.receive(lambda m: m.type == "b-t-f") for _ in texts]
        except TimeoutError:
            raise AssertionError([(m.type, m.uid) for m in returned.history]) from None
        await sync(alpha, returned)
    assert len(pending) == len(texts)
    assert [m.raw.decode().split("<remarks", 1)[1].split(">", 1)[1].split("<", 1)[0] for m in mail] == texts
    assert len(returned.seen(lambda m: m.type == "b-t-f")) == len(texts)  # once each


async def test_a_revocation_on_one_node_cuts_the_device_off_on_another(
    tls_settings: Settings, pki: PkiFixture, nats_url: str, cluster_store: str
) -> None:
    """Each node has its own copy of the CA and identity store; the revocation is made on node 1's."""
    alice, bob = pki.add_user("alice", "ops"), pki.add_user("bob", "ops")
    copy = pki.data_dir.parent / "node2-data"
    shutil.copytree(pki.data_dir, copy)
    cluster = Cluster(tls_settings, nats_url, cluster_store, pki.data_dir.parent)
    try:
        one = await cluster.start("node1", pki.data_dir)
        two = await cluster.start("node2", copy)
        async with TlsClients(two, pki) as on2:
            a, b = await on2.connect(alice), await on2.connect(bob)
            await a.send(pli_xml("ALICE-1", "ALPHA"))
            await b.receive(has_uid("ALICE-1"))
            pki.store.revoke("alice", datetime.now(UTC))  # what `rallypoint cert revoke` does on node 1
            closed = await a.closed_by_server()
            departed = await b.receive(has_type("t-x-d-d"))
    finally:
        await cluster.stop()
    assert closed
    assert "ALICE-1" in departed.raw.decode()
    assert one.server.context.counters.get("cluster_revocations_shared") == 1
    assert two.server.context.counters.get("cluster_revocations_applied") == 1


async def test_the_servers_own_message_reaches_a_device_on_another_node_once(cluster: Cluster) -> None:
    """``Host.send_to`` (objective assignments, mission notifications) on node 1 for a device on
    node 2: relayed over the bus; for a device offline everywhere: kept in the shared mailbox."""
    one, two = await cluster.start("node1"), await cluster.start("node2")
    send_to = one.server.context.mailbox.send_to
    async with ClientPool(one.ports.tcp) as pool1, ClientPool(two.ports.tcp) as pool2:
        alpha, bravo = await pool1.connect("alpha"), await pool2.connect("bravo")
        await bravo.send(pli_xml("BRAVO-1", "BRAVO"))
        await alpha.receive(has_uid("BRAVO-1"))
        live = send_to("BRAVO-1", parse_event(marker_xml("SERVER-LIVE", "SERVER")))
        await bravo.receive(has_uid("SERVER-LIVE"))
        await bravo.close()
        await alpha.receive(has_type("t-x-d-d"))
        kept = send_to("BRAVO-1", parse_event(marker_xml("SERVER-KEPT", "SERVER")))
        await one.server.context.mailbox.drain()
        back = await pool2.connect("bravo again")
        await back.send(pli_xml("BRAVO-1", "BRAVO"))
        await back.receive(has_uid("SERVER-KEPT"))
        await alpha.send(marker_xml("AFTER", "ALPHA-1"))  # after both in the stream: bravo reads it last
        await back.receive(has_uid("AFTER"))
    assert live is True
    assert kept is False
    assert [m.uid for m in bravo.history].count("SERVER-LIVE") == 1
    assert [m.uid for m in back.history].count("SERVER-KEPT") == 1
    assert "SERVER-LIVE" not in {m.uid for m in alpha.history}
    assert one.server.context.counters.get("mail_relayed") == 1
    assert two.server.context.counters.get("cluster_send_to_received") == 1


async def _page(socket: LiveSocket) -> dict[str, object]:
    async with asyncio.timeout(EVENT_TIMEOUT_S):
        text = await socket.next()
    assert text is not None
    message: dict[str, object] = json.loads(text)
    return message


async def test_the_web_live_feed_of_one_node_sees_another_nodes_events_live(cluster: Cluster) -> None:
    """A command-post page on node 2 (its live hub on node 2's router) is told at once about a
    chat and a position routed on node 1, not only through the picture when it opens."""
    one, two = await cluster.start("node1"), await cluster.start("node2")
    router = two.server.context.router
    hub = LiveHub(router, router.counters, two.server.context.clock.wall_ms)
    socket = hub.attach(Session("session", "watcher", frozenset({"__ANON__"}), "csrf", 0.0))
    snapshot = await _page(socket)
    async with ClientPool(one.ports.tcp) as pool1:
        alpha = await pool1.connect("alpha")
        await alpha.send(pli_xml("ALPHA-1", "ALPHA"))
        await alpha.send(chat_xml("ALPHA-1", "ALPHA", "from node one"))
        chat = await _page(socket)
        hub.flush()  # positions wait for the hub's coalescing flush, the chat went out at once
        contact = await _page(socket)
    assert snapshot["type"] == "snapshot"
    assert chat["type"] == "chat"
    assert isinstance(chat["message"], dict)
    assert chat["message"]["text"] == "from node one"
    assert contact["type"] == "contact"
    assert isinstance(contact["contact"], dict)
    assert contact["contact"]["uid"] == "ALPHA-1"

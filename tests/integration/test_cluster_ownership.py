"""Cluster mode (issue 17): anti-spoofing ownership holds across nodes.

A uid bound by an identity on node 1 cannot be taken by another identity on node 2 (node 2
learned the claim from the bus), nor on a node 3 that starts afterwards (it learns the
claims from the shared store when it rebuilds its picture). Mutual TLS, one data directory.
"""

from rallypoint.config import Settings
from tests.cluster_support import (
    cluster_name,
    cluster_store,
    delete_stream,
    nats_url,
    node_settings,
    postgres_url,
    start_node,
    stop_nodes,
)
from tests.conftest import PkiFixture, RunningServer, TlsClients
from tests.interop.clients import has_uid, marker_xml, pli_xml, sync

__all__ = ["cluster_store", "nats_url", "postgres_url"]  # fixtures


async def test_a_uid_bound_on_one_node_cannot_be_spoofed_on_another(
    tls_settings: Settings, pki: PkiFixture, nats_url: str, cluster_store: str
) -> None:
    alice, mallory, watcher = (
        pki.add_user("alice", "ops"),
        pki.add_user("mallory", "ops"),
        pki.add_user("w", "ops"),
    )
    name = cluster_name()
    nodes: list[RunningServer] = []

    async def start(node: str) -> RunningServer:
        settings = node_settings(tls_settings, name, node, nats_url, cluster_store, pki.data_dir)
        nodes.append(await start_node(settings))
        return nodes[-1]

    try:
        one, two = await start("node1"), await start("node2")
        async with TlsClients(one, pki) as on1, TlsClients(two, pki) as on2:
            a, w = await on1.connect(alice), await on1.connect(watcher)
            m = await on2.connect(mallory)
            await a.send(pli_xml("ALICE-1", "ALICE"))
            await a.send(marker_xml("ALICE-MARK", "ALICE-1"))
            await m.receive(has_uid("ALICE-MARK"))  # node 2 has seen alice's claims
            await m.send(pli_xml("ALICE-1", "MALLORY"))  # her uid from another identity
            await m.send(marker_xml("ALICE-MARK", "MALLORY-1"))
            await m.send(marker_xml("MALLORY-MARK", "MALLORY-1"))
            await w.receive(has_uid("MALLORY-MARK"))  # after the spoofs in the one stream
            store = one.server.context.store
            assert store is not None
            await store.flush()  # alice's events in PostgreSQL before node 3 reads them
            three = await start("node3")
            async with TlsClients(three, pki) as on3:
                m3 = await on3.connect(mallory, "mallory on node 3")
                await m3.send(pli_xml("ALICE-1", "MALLORY"))
                await m3.send(marker_xml("MALLORY-AFTER", "MALLORY-1"))
                await w.receive(has_uid("MALLORY-AFTER"))
                await sync(a, w)
    finally:
        await stop_nodes(nodes)
        await delete_stream(nats_url, name)
    spoofs = [msg for msg in w.history if msg.uid in ("ALICE-1", "ALICE-MARK") and b"MALLORY" in msg.raw]
    assert spoofs == []
    assert two.server.context.counters.get("spoofing_refused") == 2
    assert three.server.context.counters.get("spoofing_refused") == 1
    assert three.server.context.router.ownership.uid_owner("ALICE-1") == "alice"

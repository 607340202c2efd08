"""Cluster mode (issue 17): one identity store for every node, through the shared journal.

Node 2 starts with a copy of the CA only (an empty identity store): every user, certificate,
group change and revocation made with the admin commands against either node's data
directory holds on the other. The "commands" are a second ``IdentityStore`` on that node's
file, as ``rallypoint user`` / ``cert`` open it.
"""

import shutil
from datetime import UTC, datetime

from rallypoint.config import Settings
from rallypoint.pki.identities import IdentityStore
from rallypoint.pki.paths import identity_path
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
from tests.interop.clients import eventually, has_type, has_uid, pli_xml

__all__ = ["cluster_store", "nats_url", "postgres_url"]  # fixtures


async def test_users_certificates_groups_and_revocations_hold_on_every_node(
    tls_settings: Settings, pki: PkiFixture, nats_url: str, cluster_store: str
) -> None:
    alice = pki.add_user("alice", "ops")  # before the cluster started
    copy = pki.data_dir.parent / "node2-data"
    copy.mkdir()
    shutil.copytree(pki.data_dir / "pki", copy / "pki")  # the CA, no identity store
    name = cluster_name()
    nodes: list[RunningServer] = []
    try:
        for node, data_dir in (("node1", pki.data_dir), ("node2", copy)):
            settings = node_settings(tls_settings, name, node, nats_url, cluster_store, data_dir)
            nodes.append(await start_node(settings))
        one, two = nodes
        identities_two = two.server.context.identities
        assert identities_two is not None
        async with TlsClients(one, pki) as on1, TlsClients(two, pki) as on2:
            a = await on2.connect(alice)  # known to node 2 from the journal at its start
            carol = pki.add_user("carol", "ops")  # `rallypoint user add` + `cert issue` on node 1
            await eventually(
                lambda: identities_two.certificate(carol.serial) is not None, what="carol on node 2"
            )
            c = await on2.connect(carol)
            logs_in = identities_two.authenticate("carol", "password-of-carol")  # node 2's web and enrollment
            pki.store.set_groups("carol", ["ops", "blue"])
            await eventually(
                lambda: _groups(identities_two, "carol") == {"ops", "blue"}, what="groups on node 2"
            )
            c1 = await on1.connect(carol, "carol on node 1")
            await c1.send(pli_xml("CAROL-1", "CAROL"))
            await a.receive(has_uid("CAROL-1"))
            with IdentityStore(identity_path(copy)) as node2_commands:  # `rallypoint cert revoke` on node 2
                node2_commands.revoke("carol", datetime.now(UTC))
            closed_on_one = await c1.closed_by_server()
            closed_on_two = await c.closed_by_server()
            await a.receive(has_type("t-x-d-d"))
            refused_again = await on1.refused(pki.client_context(carol))
    finally:
        await stop_nodes(nodes)
        await delete_stream(nats_url, name)
    assert closed_on_one
    assert closed_on_two
    assert refused_again
    assert logs_in is not None
    assert one.server.context.counters.get("cluster_revocations_applied") == 1
    assert two.server.context.counters.get("cluster_revocations_shared") == 1
    assert pki.store.certificate(carol.serial).revoked_at is not None  # type: ignore[union-attr]


def _groups(store: IdentityStore, name: str) -> set[str] | None:
    user = store.user(name)
    return None if user is None else set(user.groups)

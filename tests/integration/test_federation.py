"""Site federation (issue 17): two sites, each its own NATS and store, linked as leaf nodes.

Two real ``nats-server`` processes, each with its own JetStream domain (``alpha`` is the hub,
``bravo`` a leaf node reaching it through a proxy that can cut the link), and two Rallypoint
servers in the test's loop, each with its own SQLite store. Negative checks do not sleep:
one sender's events cross in order, so a "fence" position sent after an event that must not
cross, once received on the other site, proves the event did not cross.
"""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from rallypoint.bench.federation_sites import Sites, two_sites
from rallypoint.config import Settings
from rallypoint.errors import ConfigError
from rallypoint.federation.link import FederationLink
from rallypoint.missions.notify import alert_chat
from rallypoint.server.server import Server
from tests.cluster_support import free_port, nats_binary
from tests.conftest import RunningServer
from tests.integration.test_cluster_cli import _refusal, _serve
from tests.interop.clients import (
    ClientPool,
    Message,
    TakClient,
    chat_xml,
    event_xml,
    eventually,
    has_uid,
    marker_xml,
    pli_xml,
    sync,
)

ALPHA_POLICY = """
[federation]
site = "alpha"
[[federation.remotes]]
site = "bravo"
outbound = { groups = ["__ANON__"], kinds = ["positions", "chat"] }
inbound = { groups = { "__ANON__" = "__ANON__" }, kinds = ["positions"] }
"""
BRAVO_POLICY = """
[federation]
site = "bravo"
[[federation.remotes]]
site = "alpha"
outbound = { groups = ["__ANON__"], kinds = ["positions", "chat"] }
inbound = { groups = { "__ANON__" = "__ANON__" }, kinds = ["positions", "chat"] }
"""
"""Alpha lets positions and chat out; bravo lets both in, alpha only positions: bravo's chat
leaves bravo and is dropped on arrival. Neither lets markers out."""


@pytest.fixture
async def sites(tmp_path: Path) -> AsyncIterator[Sites]:
    nats_binary()  # skips the test, with the reason, when nats-server is absent
    async with two_sites(tmp_path / "nats") as running:
        yield running


async def _site(base: Settings, root: Path, name: str, url: str, policy: str) -> RunningServer:
    policy_file = root / f"{name}.toml"
    policy_file.write_text(policy)
    settings = base.with_overrides(
        {
            "data_dir": root / name,
            "federation_url": url,
            "federation_file": str(policy_file),
            "missions_enabled": False,
        }
    )
    server = Server(settings)
    return RunningServer(server, await server.start())


@pytest.fixture
async def alpha_bravo(
    server_settings: Settings, sites: Sites, tmp_path: Path
) -> AsyncIterator[tuple[RunningServer, RunningServer]]:
    alpha = await _site(server_settings, tmp_path, "alpha", sites.alpha_url, ALPHA_POLICY)
    try:
        bravo = await _site(server_settings, tmp_path, "bravo", sites.bravo_url, BRAVO_POLICY)
        try:
            yield alpha, bravo
        finally:
            await bravo.server.stop()
    finally:
        await alpha.server.stop()


def _track(uid: str) -> bytes:
    """A position that is not a device's own report (no contact endpoint): a tracked object."""
    return event_xml(uid, "a-h-G", '<contact callsign="track"/>', stale_s=600)


def _uids(client: TakClient, prefix: str) -> list[str]:
    return [message.uid for message in client.history if message.uid.startswith(prefix)]


def _chats(client: TakClient, text: str) -> list[Message]:
    return [m for m in client.history if m.type == "b-t-f" and f">{text}</remarks>" in m.detail]


def _link(site: RunningServer) -> FederationLink:
    (link,) = [c for c in site.server.components if isinstance(c, FederationLink)]
    return link


async def test_events_cross_by_policy_and_what_each_side_made_while_cut_crosses_once(
    sites: Sites, alpha_bravo: tuple[RunningServer, RunningServer]
) -> None:
    alpha, bravo = alpha_bravo
    async with ClientPool(alpha.ports.tcp) as at_alpha, ClientPool(bravo.ports.tcp) as at_bravo:
        a1, a2 = await at_alpha.connect("a1"), await at_alpha.connect("a2")
        b1, b2 = await at_bravo.connect("b1"), await at_bravo.connect("b2")
        await a1.send(pli_xml("ALPHA-1-UID", "ALPHA-1"))
        await b1.send(pli_xml("BRAVO-1-UID", "BRAVO-1"))
        await b2.send(pli_xml("BRAVO-2-UID", "BRAVO-2"))
        await a1.receive(has_uid("BRAVO-1-UID"))
        await a1.receive(has_uid("BRAVO-2-UID"))
        await b1.receive(has_uid("ALPHA-1-UID"))

        # Linked: positions and chat leave alpha; a marker does not; bravo's chat is not let in.
        sent = [f"A-LIVE-{n:02d}" for n in range(20)]
        for uid in sent:
            await a1.send(_track(uid))
        await a1.send(marker_xml("A-MARKER", "ALPHA-1-UID"))
        await a1.send(chat_xml("ALPHA-1-UID", "ALPHA-1", "hello bravo one", to_callsign="BRAVO-1"))
        await b1.send(chat_xml("BRAVO-1-UID", "BRAVO-1", "hello alpha one", to_callsign="ALPHA-1"))
        await a1.send(_track("A-FENCE-1"))
        await b1.send(_track("B-FENCE-1"))
        await b1.receive(has_uid("A-FENCE-1"))
        await a1.receive(has_uid("B-FENCE-1"))
        assert _uids(b1, "A-LIVE-") == sent
        assert _uids(b1, "A-MARKER") == []
        assert len(_chats(b1, "hello bravo one")) == 1
        assert _chats(a1, "hello alpha one") == []

        # Cut: each site goes on by itself; what it makes waits in its own JetStream.
        await b2.close()  # BRAVO-2 is offline when the chat for it arrives: bravo keeps it
        sites.cut()
        await eventually(lambda: _unlinked(sites), what="the leaf-node link down")
        out_alpha = [f"A-OUT-{n:02d}" for n in range(30)]
        out_bravo = [f"B-OUT-{n:02d}" for n in range(30)]
        for a_uid, b_uid in zip(out_alpha, out_bravo, strict=True):
            await a1.send(_track(a_uid))
            await b1.send(_track(b_uid))
        await a1.send(chat_xml("ALPHA-1-UID", "ALPHA-1", "while cut", to_callsign="BRAVO-1"))
        await a1.send(chat_xml("ALPHA-1-UID", "ALPHA-1", "kept for two", to_callsign="BRAVO-2"))
        await sync(a1, a2)
        assert _uids(a2, "A-OUT-") == out_alpha  # alpha serves its own clients meanwhile
        assert _uids(b1, "A-OUT-") == []
        await eventually(lambda: _link(alpha).queued("bravo") == 0, what="alpha's JetStream stored it all")

        # Restore: what each side made meanwhile crosses, once, in order.
        sites.restore()
        await a1.send(_track("A-FENCE-2"))
        await b1.send(_track("B-FENCE-2"))
        await b1.receive(has_uid("A-FENCE-2"))
        await a1.receive(has_uid("B-FENCE-2"))
        assert _uids(b1, "A-OUT-") == out_alpha
        assert _uids(a1, "B-OUT-") == out_bravo
        assert len(_chats(b1, "while cut")) == 1
        b2 = await at_bravo.connect("b2-again")
        await b2.send(pli_xml("BRAVO-2-UID", "BRAVO-2"))
        await b2.receive(lambda m: m.type == "b-t-f" and ">kept for two</remarks>" in m.detail)

        # Nothing arrives twice: a last fence, then every count again.
        await a1.send(_track("A-FENCE-3"))
        await b1.receive(has_uid("A-FENCE-3"))
        await b2.receive(has_uid("A-FENCE-3"))
    assert _uids(b1, "A-LIVE-") == sent
    assert _uids(b1, "A-OUT-") == out_alpha
    assert _uids(a1, "B-OUT-") == out_bravo
    assert len(_chats(b1, "hello bravo one")) == 1
    assert len(_chats(b1, "while cut")) == 1
    assert len(_chats(b2, "kept for two")) == 1
    assert _chats(b1, "kept for two") == []
    assert _chats(a1, "hello alpha one") == []
    assert alpha.server.context.counters.get("federation_dropped{reason=policy}") == 1


async def _unlinked(sites: Sites) -> bool:
    return not await sites.linked()


async def test_a_site_restarted_reads_on_from_where_it_stopped(
    server_settings: Settings, sites: Sites, tmp_path: Path
) -> None:
    """The consumer is durable and acknowledged: what crossed while bravo's server was down
    arrives after its restart, and what it had routed before does not arrive again."""
    alpha = await _site(server_settings, tmp_path, "alpha", sites.alpha_url, ALPHA_POLICY)
    bravo = await _site(server_settings, tmp_path, "bravo", sites.bravo_url, BRAVO_POLICY)
    try:
        async with ClientPool(alpha.ports.tcp) as at_alpha:
            a1 = await at_alpha.connect("a1")
            await a1.send(pli_xml("ALPHA-1-UID", "ALPHA-1"))
            async with ClientPool(bravo.ports.tcp) as at_bravo:
                b1 = await at_bravo.connect("b1")
                await b1.send(pli_xml("BRAVO-1-UID", "BRAVO-1"))
                await a1.receive(has_uid("BRAVO-1-UID"))
                await a1.send(chat_xml("ALPHA-1-UID", "ALPHA-1", "before", to_callsign="BRAVO-1"))
                await b1.receive(lambda m: m.type == "b-t-f" and ">before</remarks>" in m.detail)
            await bravo.server.stop()
            await a1.send(chat_xml("ALPHA-1-UID", "ALPHA-1", "during", to_callsign="BRAVO-1"))
            await eventually(lambda: _link(alpha).queued("bravo") == 0, what="alpha's JetStream stored it")
            bravo = await _site(server_settings, tmp_path, "bravo", sites.bravo_url, BRAVO_POLICY)
            async with ClientPool(bravo.ports.tcp) as at_bravo:
                b1 = await at_bravo.connect("b1-again")
                await b1.send(pli_xml("BRAVO-1-UID", "BRAVO-1"))
                await b1.receive(lambda m: m.type == "b-t-f" and ">during</remarks>" in m.detail)
                await a1.send(_track("A-FENCE"))
                await b1.receive(has_uid("A-FENCE"))
                assert len(_chats(b1, "during")) == 1
                assert _chats(b1, "before") == []
    finally:
        await bravo.server.stop()
        await alpha.server.stop()


def test_serve_refuses_a_federation_nats_it_cannot_reach_in_one_line(tmp_path: Path) -> None:
    policy = tmp_path / "federation.toml"
    policy.write_text(ALPHA_POLICY)
    nowhere = f"nats://127.0.0.1:{free_port()}"
    result = _serve(tmp_path, federation_url=nowhere, federation_file=str(policy))
    (line,) = _refusal(result)
    assert f"cannot reach the federation NATS at {nowhere}" in line
    assert b"WARNING" not in result.stderr  # one line, not one per attempt


def test_serve_refuses_federation_without_its_policy_file_in_one_line(tmp_path: Path) -> None:
    (line,) = _refusal(_serve(tmp_path, federation_url="nats://127.0.0.1:4222"))
    assert "federation_url needs federation_file" in line


async def test_a_site_on_a_nats_of_another_jetstream_domain_is_refused(
    server_settings: Settings, sites: Sites, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="JetStream domain 'alpha', not this site's name 'bravo'"):
        await _site(server_settings, tmp_path, "bravo", sites.alpha_url, BRAVO_POLICY)


async def test_what_a_server_sends_a_device_at_the_other_site_reaches_it_there_once(
    alpha_bravo: tuple[RunningServer, RunningServer],
) -> None:
    """``Host.send_to`` (objective assignments, mission notices) for a device last heard of at
    the other site crosses and is delivered there, or kept in that site's mailbox."""
    alpha, bravo = alpha_bravo
    async with ClientPool(alpha.ports.tcp) as at_alpha, ClientPool(bravo.ports.tcp) as at_bravo:
        a1 = await at_alpha.connect("a1")
        b1, b2 = await at_bravo.connect("b1"), await at_bravo.connect("b2")
        await b1.send(pli_xml("BRAVO-1-UID", "BRAVO-1"))
        await b2.send(pli_xml("BRAVO-2-UID", "BRAVO-2"))
        await a1.receive(has_uid("BRAVO-1-UID"))
        await a1.receive(has_uid("BRAVO-2-UID"))
        await b2.close()
        send_to = alpha.server.context.mailbox.send_to
        server = alpha.server.settings.server_id
        now = alpha.server.context.clock.wall_ms()
        assert send_to("BRAVO-1-UID", alert_chat(server, "BRAVO-1-UID", "to bravo one", now))
        assert send_to("BRAVO-2-UID", alert_chat(server, "BRAVO-2-UID", "to bravo two", now))
        await b1.receive(lambda m: m.type == "b-t-f" and ">to bravo one</remarks>" in m.detail)
        b2 = await at_bravo.connect("b2-again")
        await b2.send(pli_xml("BRAVO-2-UID", "BRAVO-2"))
        await b2.receive(lambda m: m.type == "b-t-f" and ">to bravo two</remarks>" in m.detail)
        await a1.send(_track("A-FENCE"))  # crosses after both: nothing more is on its way
        await b1.receive(has_uid("A-FENCE"))
        await b2.receive(has_uid("A-FENCE"))
        assert len(_chats(b1, "to bravo one")) == 1
        assert len(_chats(b2, "to bravo two")) == 1
    assert alpha.server.context.counters.get("mail_relayed") == 2
    assert alpha.server.context.counters.get("mail_kept") == 0  # nothing kept at alpha

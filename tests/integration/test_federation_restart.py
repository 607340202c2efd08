"""Site federation exactly once across a receiving site killed mid-catch-up (issue 17).

Alpha (a server in the test's loop) makes tracks and chats for an offline device at bravo
while the link is cut; bravo is a ``rallypoint serve`` process, SIGKILLed while it routes the
catch-up and started again on the same store. Counted in bravo's store: every track stored
once, every chat kept once in the offline device's mailbox, none lost and none twice.
"""

import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from rallypoint.bench.federation_sites import Sites, two_sites
from rallypoint.bench.server import PORTS_OFF
from rallypoint.config import Settings
from tests.cluster_support import free_port, nats_binary
from tests.integration.test_cluster_cli import _listening
from tests.integration.test_federation import ALPHA_POLICY, BRAVO_POLICY, _link, _site, _track, _unlinked
from tests.interop.clients import ClientPool, chat_xml, eventually, has_uid, pli_xml
from tests.waiting import EVENT_TIMEOUT_S

TRACKS = 4000
"""Enough that bravo's catch-up takes a while: it is killed once the first are stored."""
CHATS = 40


@pytest.fixture
async def sites(tmp_path: Path) -> AsyncIterator[Sites]:
    nats_binary()  # skips the test, with the reason, when nats-server is absent
    async with two_sites(tmp_path / "nats") as running:
        yield running


def _bravo(root: Path, url: str, port: int) -> subprocess.Popen[bytes]:
    policy = root / "bravo.toml"
    policy.write_text(BRAVO_POLICY)
    env = {
        **os.environ,
        **PORTS_OFF,
        "RALLYPOINT_DATA_DIR": str(root / "bravo"),
        "RALLYPOINT_FEDERATION_URL": url,
        "RALLYPOINT_FEDERATION_FILE": str(policy),
        "RALLYPOINT_MISSIONS_ENABLED": "false",
        "RALLYPOINT_TCP_PORT": str(port),
    }
    return subprocess.Popen([sys.executable, "-m", "rallypoint", "serve"], env=env, stderr=subprocess.DEVNULL)


def _count(database: Path, sql: str) -> int:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=EVENT_TIMEOUT_S) as db:
        return int(db.execute(sql).fetchone()[0])


def _tracks_stored(database: Path) -> int:
    return (
        _count(database, "SELECT count(*) FROM events WHERE uid LIKE 'A-OUT-%'") if database.exists() else 0
    )


def _kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=EVENT_TIMEOUT_S)


async def test_a_site_killed_mid_catch_up_stores_each_crossing_event_once(
    server_settings: Settings, sites: Sites, tmp_path: Path
) -> None:
    database = tmp_path / "bravo" / "rallypoint.sqlite3"
    port = free_port()
    alpha = await _site(server_settings, tmp_path, "alpha", sites.alpha_url, ALPHA_POLICY)
    bravo = _bravo(tmp_path, sites.bravo_url, port)
    try:
        await eventually(lambda: _listening(bravo, port), what="bravo listening")
        async with ClientPool(alpha.ports.tcp) as at_alpha:
            a1 = await at_alpha.connect("a1")
            await a1.send(pli_xml("ALPHA-1-UID", "ALPHA-1"))
            async with ClientPool(port) as at_bravo:
                b2 = await at_bravo.connect("b2")
                await b2.send(pli_xml("BRAVO-2-UID", "BRAVO-2"))
                await a1.receive(has_uid("BRAVO-2-UID"))  # alpha knows BRAVO-2 is at bravo
            sites.cut()  # BRAVO-2 has gone offline; what alpha makes now waits in its JetStream
            await eventually(lambda: _unlinked(sites), what="the leaf-node link down")
            tracks = [f"A-OUT-{n:05d}" for n in range(TRACKS)]
            chats = [f"kept {n:02d}" for n in range(CHATS)]
            every = TRACKS // CHATS
            for n, uid in enumerate(tracks):
                await a1.send(_track(uid))
                if n % every == 0:
                    await a1.send(
                        chat_xml("ALPHA-1-UID", "ALPHA-1", chats[n // every], to_callsign="BRAVO-2")
                    )
            await eventually(
                lambda: _link(alpha).queued("bravo") == 0, what="alpha's JetStream stored it all"
            )

            sites.restore()
            await eventually(lambda: _tracks_stored(database) > 0, what="bravo storing the catch-up")
            _kill(bravo)
            stored_at_kill = _tracks_stored(database)
            bravo = _bravo(tmp_path, sites.bravo_url, port)
            await eventually(lambda: _listening(bravo, port), what="bravo listening again")
            await a1.send(_track("A-FENCE"))  # after everything else: stored last
            await eventually(
                lambda: _count(database, "SELECT count(*) FROM events WHERE uid = 'A-FENCE'") == 1,
                what="alpha's fence stored at bravo",
            )
        mail = "SELECT count(*) FROM mail WHERE recipient = 'BRAVO-2-UID'"
        # the mailbox commits apart from the history: the fence stored does not mean its mail is
        await eventually(lambda: _count(database, mail) >= CHATS, what="every chat kept at bravo")
        stored = _count(database, "SELECT count(*) FROM events WHERE uid LIKE 'A-OUT-%'")
        distinct = _count(database, "SELECT count(DISTINCT uid) FROM events WHERE uid LIKE 'A-OUT-%'")
        kept = _count(database, "SELECT count(*) FROM mail WHERE recipient = 'BRAVO-2-UID'")
        kept_texts = _count(
            database, "SELECT count(DISTINCT crossing) FROM mail WHERE recipient = 'BRAVO-2-UID'"
        )
    finally:
        _kill(bravo)
        await alpha.server.stop()
    assert 0 < stored_at_kill < TRACKS  # killed mid-catch-up
    assert (stored, distinct) == (TRACKS, TRACKS)
    assert (kept, kept_texts) == (CHATS, CHATS)

"""`rallypoint serve` in cluster mode as an operator runs it: node processes (one of them SIGKILLed),
real NATS, real PostgreSQL."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from rallypoint.bench.server import PORTS_OFF
from rallypoint.cluster import bus as bus_module
from rallypoint.config import Settings
from tests.cluster_support import (
    cluster_name,
    cluster_store,
    delete_stream,
    free_port,
    nats_url,
    node_settings,
    postgres_url,
    start_node,
    stop_nodes,
)
from tests.interop.clients import TakClient, chat_xml, has_type, has_uid, marker_xml, pli_xml
from tests.waiting import EVENT_TIMEOUT_S, wait_until

__all__ = ["cluster_store", "nats_url", "postgres_url"]  # fixtures


def _serve(tmp_path: Path, **settings: str) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, **PORTS_OFF, **{f"RALLYPOINT_{k.upper()}": v for k, v in settings.items()}}
    return subprocess.run(
        [sys.executable, "-m", "rallypoint", "serve", "--tcp-port", str(free_port())],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        timeout=EVENT_TIMEOUT_S * 2,
        check=False,
    )


def _refusal(result: subprocess.CompletedProcess[bytes]) -> list[str]:
    assert result.returncode == 2
    assert b"Traceback" not in result.stderr
    return [line for line in result.stderr.decode().splitlines() if line.startswith("rallypoint: ")]


def test_the_embedded_server_never_imports_nats() -> None:
    """Without ``cluster_url`` nothing needs the ``cluster`` extra: ``pip install .`` serves."""
    check = (
        "import sys, rallypoint.cli, rallypoint.server.server, rallypoint.bench.command;"
        "sys.exit('nats' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", check], timeout=EVENT_TIMEOUT_S, check=False).returncode == 0


def test_a_cluster_without_postgresql_is_refused(tmp_path: Path) -> None:
    (line,) = _refusal(_serve(tmp_path, cluster_url="nats://127.0.0.1:4222"))
    assert "PostgreSQL store_url" in line


def test_a_cluster_without_a_reachable_nats_is_refused(tmp_path: Path, cluster_store: str) -> None:
    nowhere = f"nats://127.0.0.1:{free_port()}"
    result = _serve(tmp_path, cluster_url=nowhere, store_url=cluster_store)
    (line,) = _refusal(result)
    assert f"cannot reach NATS at {nowhere}" in line
    assert b"WARNING" not in result.stderr  # one line, not one per attempt


def _node_process(
    tmp_path: Path, name: str, port: int, nats_url: str, cluster: str, store_url: str
) -> subprocess.Popen[bytes]:
    """``rallypoint serve`` as cluster node ``name``, plain TCP on ``port``, the rest off."""
    env = {
        **os.environ,
        **PORTS_OFF,
        "RALLYPOINT_CLUSTER_URL": nats_url,
        "RALLYPOINT_CLUSTER_NAME": cluster,
        "RALLYPOINT_CLUSTER_NODE_ID": name,
        "RALLYPOINT_STORE_URL": store_url,
        "RALLYPOINT_DATA_DIR": str(tmp_path / name),
        "RALLYPOINT_TCP_PORT": str(port),
    }
    return subprocess.Popen([sys.executable, "-m", "rallypoint", "serve"], env=env, stderr=subprocess.DEVNULL)


async def test_two_node_processes_share_events(tmp_path: Path, nats_url: str, cluster_store: str) -> None:
    ports, cluster = [free_port(), free_port()], cluster_name()
    processes = [
        _node_process(tmp_path, name, port, nats_url, cluster, cluster_store)
        for name, port in zip(("node1", "node2"), ports, strict=True)
    ]
    try:
        for process, port in zip(processes, ports, strict=True):
            wait_until(lambda p=process, n=port: _listening(p, n), what=f"node on {port}")
        one, two = await TakClient.connect(ports[0], "one"), await TakClient.connect(ports[1], "two")
        await one.send(marker_xml("MARK-CLI", "ONE-1"))
        received = await two.receive(has_uid("MARK-CLI"))
        await one.close()
        await two.close()
    finally:
        for process in processes:
            os.kill(process.pid, signal.SIGTERM)
        codes = [process.wait(timeout=EVENT_TIMEOUT_S) for process in processes]
        await delete_stream(nats_url, cluster)
    assert received.type == "b-m-p-s-m"
    assert codes == [0, 0]


def _listening(process: subprocess.Popen[bytes], port: int) -> bool:
    assert process.poll() is None, "the node ended"
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


async def test_a_node_killed_its_devices_carry_on_elsewhere_and_their_mail_is_kept(
    tmp_path: Path,
    nats_url: str,
    cluster_store: str,
    server_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Node 1 is a process SIGKILLed mid-run; node 2 (in this loop) takes its devices as gone."""
    monkeypatch.setattr(bus_module, "NODE_TIMEOUT_MS", 5_000)  # above node 1's 2 s heartbeat
    cluster, port = cluster_name(), free_port()
    killed = _node_process(tmp_path, "node1", port, nats_url, cluster, cluster_store)
    two = await start_node(
        node_settings(server_settings, cluster, "node2", nats_url, cluster_store, tmp_path / "n2")
    )
    try:
        wait_until(lambda: _listening(killed, port), what="node 1 listening")
        assert two.ports.tcp is not None
        alpha, bravo = await TakClient.connect(port, "alpha"), await TakClient.connect(two.ports.tcp, "bravo")
        await bravo.send(pli_xml("BRAVO-1", "BRAVO"))
        await alpha.receive(has_uid("BRAVO-1"))
        await alpha.send(pli_xml("ALPHA-1", "ALPHA"))
        await bravo.receive(has_uid("ALPHA-1"))
        os.kill(killed.pid, signal.SIGKILL)
        killed.wait(timeout=EVENT_TIMEOUT_S)
        gone = await bravo.receive(has_type("t-x-d-d"))
        await bravo.send(chat_xml("BRAVO-1", "BRAVO", "are you there", to_callsign="ALPHA"))
        kept = await bravo.receive(has_type("b-t-f-p"))
        back = await TakClient.connect(two.ports.tcp, "alpha again")
        await back.send(pli_xml("ALPHA-1", "ALPHA"))
        mail = await back.receive(lambda m: m.type == "b-t-f")
        for client in (alpha, bravo, back):
            await client.close()
    finally:
        if killed.poll() is None:
            os.kill(killed.pid, signal.SIGKILL)
            killed.wait(timeout=EVENT_TIMEOUT_S)
        await stop_nodes([two])
        await delete_stream(nats_url, cluster)
    assert "ALPHA-1" in gone.raw.decode()
    assert kept.uid.startswith("GeoChat.BRAVO-1.")
    assert mail.uid == kept.uid
    assert two.server.context.counters.get("cluster_node_lost") == 1


async def test_chats_answered_pending_survive_their_node_killed(
    tmp_path: Path, nats_url: str, cluster_store: str, server_settings: Settings
) -> None:
    """A burst of chats from a device on node 1 (a process) to one on node 2; node 1 is SIGKILLed as
    soon as half are answered ``b-t-f-p``: every chat answered reaches node 2's device exactly once."""
    cluster, port, burst = cluster_name(), free_port(), 400
    killed = _node_process(tmp_path, "node1", port, nats_url, cluster, cluster_store)
    two = await start_node(
        node_settings(server_settings, cluster, "node2", nats_url, cluster_store, tmp_path / "n2")
    )
    three = await start_node(
        node_settings(server_settings, cluster, "node3", nats_url, cluster_store, tmp_path / "n3")
    )
    try:
        wait_until(lambda: _listening(killed, port), what="node 1 listening")
        assert two.ports.tcp is not None
        assert three.ports.tcp is not None
        alpha, bravo = await TakClient.connect(port, "alpha"), await TakClient.connect(two.ports.tcp, "bravo")
        charlie = await TakClient.connect(three.ports.tcp, "charlie")
        await bravo.send(pli_xml("BRAVO-1", "BRAVO"))
        await alpha.receive(has_uid("BRAVO-1"))
        await alpha.send(pli_xml("ALPHA-1", "ALPHA"))
        await bravo.receive(has_uid("ALPHA-1"))
        for n in range(burst):
            await alpha.send(
                chat_xml("ALPHA-1", "ALPHA", f"burst {n}", to_uid="BRAVO-1", marti='<dest uid="BRAVO-1"/>')
            )
        for _ in range(burst // 2):
            await alpha.receive(has_type("b-t-f-p"))
        os.kill(killed.pid, signal.SIGKILL)
        killed.wait(timeout=EVENT_TIMEOUT_S)
        with contextlib.suppress(ConnectionError):  # read to the end: all node 1 wrote to alpha
            await alpha.receive(lambda _message: False)
        answered = [m.uid for m in alpha.seen(has_type("b-t-f-p"))]
        # Node 3's marker is in the stream after everything node 1 had stored: bravo reads it last.
        await charlie.send(marker_xml("AFTER-KILL", "CHARLIE-1"))
        await bravo.receive(has_uid("AFTER-KILL"))
        for client in (alpha, bravo, charlie):
            await client.close()
    finally:
        if killed.poll() is None:
            os.kill(killed.pid, signal.SIGKILL)
            killed.wait(timeout=EVENT_TIMEOUT_S)
        await stop_nodes([two, three])
        await delete_stream(nats_url, cluster)
    received = [m.uid for m in bravo.history if m.type == "b-t-f"]
    assert len(answered) >= burst // 2
    assert len(set(answered)) == len(answered)
    assert all(received.count(uid) == 1 for uid in answered)
    assert len(set(received)) == len(received)  # nothing twice, answered or not

"""`rallypoint serve` in cluster mode as an operator runs it: a subprocess, real NATS, real PostgreSQL."""

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from rallypoint.bench.server import PORTS_OFF
from tests.cluster_support import (
    cluster_name,
    cluster_store,
    delete_stream,
    free_port,
    nats_url,
    postgres_url,
)
from tests.interop.clients import TakClient, has_uid, marker_xml
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


async def test_two_node_processes_share_events(tmp_path: Path, nats_url: str, cluster_store: str) -> None:
    ports, cluster = [free_port(), free_port()], cluster_name()
    processes = []
    for name, port in zip(("node1", "node2"), ports, strict=True):
        env = {
            **os.environ,
            **PORTS_OFF,
            "RALLYPOINT_CLUSTER_URL": nats_url,
            "RALLYPOINT_CLUSTER_NAME": cluster,
            "RALLYPOINT_CLUSTER_NODE_ID": name,
            "RALLYPOINT_STORE_URL": cluster_store,
            "RALLYPOINT_DATA_DIR": str(tmp_path / name),
            "RALLYPOINT_TCP_PORT": str(port),
        }
        processes.append(
            subprocess.Popen(  # noqa: ASYNC220
                [sys.executable, "-m", "rallypoint", "serve"], env=env, stderr=subprocess.DEVNULL
            )
        )
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

"""``rallypoint bench`` against real servers: counts, latency samples, negotiation, TLS, reports.

These check that a run completes and reports what it counted; they never judge a timing
(whether the server is fast enough is what ``rallypoint bench`` itself reports). A phase
ends as soon as its senders reach ``max_messages`` and every fence is back, so the long
durations and grace periods below only bound a stuck run."""

import json
import os
import socket

import pytest

from rallypoint.bench.errors import BenchError
from rallypoint.bench.route import Route
from rallypoint.bench.runner import run_scenario
from rallypoint.bench.scenarios import Scenario
from rallypoint.bench.tls import ClientFiles, TlsIdentities
from rallypoint.cli import main
from rallypoint.cot.negotiation import WireFormat
from rallypoint.transport.handshake import MAX_PENDING_PER_ADDRESS
from tests.conftest import PkiFixture, RunningServer


def _plain(server: RunningServer) -> Route:
    return Route.plain(server.host, server.ports.tcp)


TINY = Scenario(
    name="tiny", clients=3, senders=1, duration_s=60.0, warmup_s=0.0, grace_s=60.0, max_messages=200
)


@pytest.mark.parametrize("wire_format", [WireFormat.XML, WireFormat.PROTOBUF])
async def test_flat_out_sender_reaches_every_client(
    running_server: RunningServer, wire_format: WireFormat
) -> None:
    scenario = TINY.with_overrides(wire_format=wire_format)
    result = await run_scenario(scenario, _plain(running_server))
    assert (result.sent, result.expected, result.received) == (200, 600, 600)
    assert result.delivery_ratio == 1.0
    assert result.settled
    assert result.latency.samples > 0
    assert result.latency.p99_ms is not None
    assert result.latency.p99_ms >= 0
    assert result.connections_lost == 0
    assert result.server is None


async def test_window_keeps_counts_exact(running_server: RunningServer) -> None:
    result = await run_scenario(TINY.with_overrides(window=16), _plain(running_server))
    assert (result.sent, result.received) == (200, 600)


async def test_unfinished_warmup_is_an_error_not_a_miscount(running_server: RunningServer) -> None:
    scenario = TINY.with_overrides(warmup_s=0.1, grace_s=0.0)  # no time for the fences to arrive
    with pytest.raises(BenchError, match="warm-up"):
        await run_scenario(scenario, _plain(running_server))


async def test_unfinished_measurement_is_flagged(running_server: RunningServer) -> None:
    result = await run_scenario(TINY.with_overrides(grace_s=0.0), _plain(running_server))
    assert not result.settled
    assert result.sent == 200


async def test_paced_senders_and_warmup_are_counted_apart(running_server: RunningServer) -> None:
    scenario = TINY.with_overrides(clients=2, senders=2, rate=200.0, warmup_s=30.0, max_messages=30)
    result = await run_scenario(scenario, _plain(running_server))
    assert result.sent == 2 * 30  # the warm-up's messages are not in the measured phase
    assert result.received == result.expected == 2 * 30 * 2
    assert result.latency.samples > 0
    assert result.elapsed_s > 0


async def test_idle_connections_are_held_and_measured(running_server: RunningServer) -> None:
    scenario = Scenario(name="idle", clients=20, duration_s=0.2, warmup_s=0.0, idle=True)
    result = await run_scenario(scenario, _plain(running_server), os.getpid())
    assert result.connections_lost == 0
    assert result.server is not None
    assert result.server.connections == 20
    assert result.server.idle_cpu_percent is not None
    assert running_server.server.context.counters.get("connections_opened{transport=tcp}") == 20


def test_command_starts_its_own_server_and_prints_json(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["bench", "fanout", "--clients", "2", "--max-messages", "100", "--warmup", "0", "--duration", "3"]
    code = main([*argv, "--json"])
    document = json.loads(capsys.readouterr().out)
    assert code == (0 if document["passed"] else 1)
    assert (document["sent"], document["expected"], document["received"]) == (100, 200, 200)
    assert document["delivery_ratio"] == 1.0
    assert document["server"]["origin"].startswith("started by the bench")
    assert document["server_rss_kib"]["before"] > 0
    assert document["server_cpu_percent"] is not None
    assert [t["metric"] for t in document["targets"]] == [
        "delivered_per_s",
        "delivery_ratio",
        "latency_p99_ms",
    ]


def test_command_compares_plain_and_tls_on_one_server(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["bench", "fanout", "--compare-tls", "--clients", "2", "--max-messages", "100", "--warmup", "0"]
    code = main([*argv, "--duration", "3", "--json"])
    document = json.loads(capsys.readouterr().out)
    assert code == (0 if document["passed"] else 1)
    runs = document["runs"]
    assert [run["transport"] for run in runs] == ["tcp", "tls", "tcp"]
    assert len({run["server"]["origin"] for run in runs}) == 1  # one server process for all three
    for run in runs:
        assert (run["sent"], run["received"], run["delivery_ratio"]) == (100, 200, 1.0)
        assert run["connections_lost"] == 0
    tls = runs[1]
    assert tls["handshakes_per_s"] > 0
    assert tls["connect_server_cpu_s"] is not None
    assert runs[0]["handshakes_per_s"] is None
    comparison = document["comparison"]
    assert comparison["order"] == ["tcp", "tls", "tcp"]
    assert comparison["tls_to_plain_ratio"] > 0
    assert [t["metric"] for t in comparison["targets"]] == ["tls_to_plain_ratio"]


def test_command_holds_idle_tls_connections(capsys: pytest.CaptureFixture[str]) -> None:
    """More connections than the server lets one address handshake at once: none is refused."""
    clients = str(MAX_PENDING_PER_ADDRESS + 8)
    code = main(
        ["bench", "idle", "--tls", "--clients", clients, "--duration", "0.2", "--warmup", "0", "--json"]
    )
    document = json.loads(capsys.readouterr().out)
    assert code == (0 if document["passed"] else 1)
    assert document["transport"] == "tls"
    assert document["connections_lost"] == 0
    assert document["handshakes_per_s"] > 0
    assert document["server_rss_kib"]["connected"] > 0


async def test_tls_target_with_one_identity_for_every_connection(
    tls_server: RunningServer, pki: PkiFixture
) -> None:
    credentials = pki.add_user("bench-operator", "bench")
    identity = ClientFiles(credentials.certificate, credentials.key)
    assert tls_server.ports.tls is not None
    route = TlsIdentities.shared(pki.ca_file, identity, "localhost").route(
        tls_server.host, tls_server.ports.tls
    )
    scenario = TINY.with_overrides(senders=2)  # two senders, one identity: anti-spoofing lets them both in
    result = await run_scenario(scenario, route)
    assert result.tls
    assert (result.sent, result.received) == (400, 1200)
    assert result.handshakes_per_s is not None
    assert result.handshakes_per_s > 0
    counters = tls_server.server.context.counters
    assert counters.get("connections_opened{transport=tls}") == 5
    assert counters.get("spoofing_refused") == 0


def test_command_reports_an_unreachable_target(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # bound but not listening: connections are refused
        code = main(["bench", "steady", "--clients", "1", "--senders", "1", "--target", f"127.0.0.1:{port}"])
    assert code == 2
    assert "cannot connect" in capsys.readouterr().err


def test_command_refuses_a_remote_target(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "fanout", "--target", "192.0.2.1:8087"]) == 2
    assert "not a loopback address" in capsys.readouterr().err


def test_command_refuses_tls_to_a_target_without_an_identity(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "fanout", "--tls", "--target", "127.0.0.1:8089"]) == 2
    assert "--ca, --cert and --key" in capsys.readouterr().err

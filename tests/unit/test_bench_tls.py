"""The bench's TLS parts: identities for its server, routes, the connect phase, the comparison, options."""

import json
import stat
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from rallypoint.bench.command import Mode, Plan, plan_from_args
from rallypoint.bench.compare import COMPARE_ORDER, Comparison, mean_rate
from rallypoint.bench.errors import BenchError
from rallypoint.bench.report import (
    comparison_passed,
    comparison_to_json,
    comparison_verdicts,
    render_comparison_text,
    render_text,
    to_json,
)
from rallypoint.bench.results import BenchResult, ConnectPhase, Latency, ServerUsage
from rallypoint.bench.route import Endpoint, Route
from rallypoint.bench.scenarios import PRESETS, TLS_RATIO_TARGET
from rallypoint.bench.server import free_ports, tls_environment
from rallypoint.bench.tls import (
    BENCH_GROUP,
    MAX_TLS_SENDERS,
    RECEIVER_USER,
    ClientFiles,
    TlsIdentities,
    client_context,
    prepare_server_pki,
)
from rallypoint.cli import build_parser
from rallypoint.pki.identities import IdentityStore
from rallypoint.pki.paths import identity_path

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def _result(delivered_per_s: float, *, tls: bool = False) -> BenchResult:
    """A fan-out result delivering ``delivered_per_s`` over one second."""
    received = int(delivered_per_s)
    return BenchResult(
        scenario=PRESETS["fanout"],
        address="127.0.0.1:8089" if tls else "127.0.0.1:8087",
        sent=received // 10,
        expected=received,
        received=received,
        elapsed_s=1.0,
        latency=Latency(10, 1.0, 2.0, 3.0),
        connections_lost=0,
        connect=ConnectPhase(11, 0.05, 0.04, 0.02),
        server=ServerUsage(1000, 1440, 1500, 11, 99.0),
        tls=tls,
    )


def test_plain_route_sends_everyone_to_one_endpoint() -> None:
    route = Route.plain("127.0.0.1", 8087)
    assert not route.tls
    assert route.sender(0) == route.sender(5) == route.receivers == Endpoint("127.0.0.1", 8087)
    assert str(route.receivers) == "127.0.0.1:8087"


def test_route_cycles_through_sender_endpoints() -> None:
    first, second = Endpoint("h", 1), Endpoint("h", 2)
    route = Route(first, (first, second))
    assert [route.sender(i).port for i in range(4)] == [1, 2, 1, 2]


def test_server_pki_gives_each_sender_its_own_identity(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    identities = prepare_server_pki(data_dir, tmp_path / "clients", 2, NOW)
    assert identities.ca_file == data_dir / "pki" / "ca.pem"
    assert identities.server_name == "localhost"
    with IdentityStore(identity_path(data_dir)) as store:
        users = {user.name: user.groups for user in store.users()}
        assert users == {
            name: frozenset({BENCH_GROUP}) for name in (RECEIVER_USER, "bench-send-0", "bench-send-1")
        }
        assert sorted(record.user for record in store.certificates()) == sorted(users)
    files = [identities.receiver, *identities.senders]
    assert len({f.certificate for f in files}) == 3
    for client in files:
        assert client.certificate.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
        assert stat.S_IMODE(client.key.stat().st_mode) == 0o600
    route = identities.route("127.0.0.1", 8089)
    assert route.tls
    assert route.receivers.server_hostname == "localhost"
    contexts = {id(route.receivers.ssl_context), *(id(route.sender(i).ssl_context) for i in range(2))}
    assert len(contexts) == 3


def test_server_pki_without_senders_has_only_the_receivers_identity(tmp_path: Path) -> None:
    identities = prepare_server_pki(tmp_path / "data", tmp_path / "clients", 0, NOW)
    assert identities.senders == (identities.receiver,)


def test_server_pki_refuses_too_many_senders_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="one identity per sender"):
        prepare_server_pki(tmp_path / "data", tmp_path / "clients", MAX_TLS_SENDERS + 1, NOW)
    assert not (tmp_path / "data").exists()


def test_shared_identity_serves_every_connection_with_one_context(tmp_path: Path) -> None:
    made = prepare_server_pki(tmp_path / "data", tmp_path / "clients", 0, NOW)
    route = TlsIdentities.shared(made.ca_file, made.receiver, "127.0.0.1").route("127.0.0.1", 8089)
    assert route.sender(3) is route.receivers
    assert route.receivers.server_hostname == "127.0.0.1"


def test_client_context_names_unreadable_files(tmp_path: Path) -> None:
    missing = ClientFiles(tmp_path / "none.pem", tmp_path / "none.key")
    with pytest.raises(BenchError, match="TLS client files"):
        client_context(tmp_path / "ca.pem", missing)


def test_free_ports_are_distinct() -> None:
    ports = free_ports(3)
    assert len(set(ports)) == 3
    assert all(0 < port < 65536 for port in ports)


def test_tls_environment_turns_the_port_on_with_the_certificate_names() -> None:
    assert tls_environment(18089) == {
        "RALLYPOINT_TLS_PORT": "18089",
        "RALLYPOINT_HOSTNAMES": "localhost,127.0.0.1",
    }


def test_connect_phase_figures() -> None:
    phase = ConnectPhase(connections=2000, seconds=5.0, generator_cpu_s=4.5, server_cpu_s=3.0)
    assert phase.per_s == 400.0
    assert phase.server_ms_each == 1.5
    assert phase.server_capacity_per_s == pytest.approx(1000 / 1.5)
    assert phase.server_cpu_percent == 60.0
    assert phase.generator_cpu_percent == 90.0
    unmeasured = ConnectPhase(connections=5, seconds=0.0, generator_cpu_s=0.0)
    assert (unmeasured.per_s, unmeasured.server_ms_each, unmeasured.server_capacity_per_s) == (
        None,
        None,
        None,
    )
    assert (unmeasured.server_cpu_percent, unmeasured.generator_cpu_percent) == (None, None)


def test_handshake_rate_only_for_tls_runs() -> None:
    assert _result(100.0).handshakes_per_s is None
    assert _result(100.0, tls=True).handshakes_per_s == pytest.approx(220.0)
    assert _result(100.0, tls=True).metrics()["handshakes_per_s"] == pytest.approx(220.0)


def test_mean_rate() -> None:
    assert mean_rate([_result(100.0), _result(300.0)]) == 200.0
    assert mean_rate([]) is None
    assert mean_rate([replace(_result(100.0), scenario=PRESETS["idle"])]) is None


def test_comparison_is_tls_against_the_mean_of_the_plain_runs() -> None:
    assert COMPARE_ORDER == (False, True, False)
    comparison = Comparison((_result(100_000.0), _result(75_000.0, tls=True), _result(110_000.0)))
    assert comparison.plain_per_s == 105_000.0
    assert comparison.tls_per_s == 75_000.0
    assert comparison.ratio == pytest.approx(75 / 105)
    assert [v.passed for v in comparison_verdicts(comparison)] == [True]
    assert Comparison((_result(100_000.0), _result(69_000.0, tls=True))).ratio == pytest.approx(0.69)
    assert not comparison_verdicts(Comparison((_result(100_000.0), _result(69_000.0, tls=True))))[0].passed
    assert Comparison((_result(100_000.0),)).ratio is None


def test_comparison_reports() -> None:
    comparison = Comparison((_result(400_000.0), _result(320_000.0, tls=True), _result(400_000.0)))
    text = render_comparison_text(comparison, "started by the bench, pid 1")
    assert "== run 2 of 3: mutual TLS ==" in text
    assert "TLS/plain    0.800" in text
    assert "PASS  tls_to_plain_ratio >= 0.7  (measured 0.800)" in text
    document = json.loads(json.dumps(comparison_to_json(comparison, "test")))
    assert [run["transport"] for run in document["runs"]] == ["tcp", "tls", "tcp"]
    assert document["comparison"]["order"] == ["tcp", "tls", "tcp"]
    assert document["comparison"]["plain_delivered_per_s"] == [400_000.0, 400_000.0]
    assert document["comparison"]["tls_to_plain_ratio"] == pytest.approx(0.8)
    assert document["comparison"]["targets"][0]["metric"] == TLS_RATIO_TARGET.metric
    assert document["comparison"]["passed"] is True
    assert document["passed"] is comparison_passed(comparison) is True  # every run met the preset too


def test_comparison_fails_when_a_run_misses_its_targets() -> None:
    comparison = Comparison((_result(100_000.0), _result(100_000.0, tls=True), _result(100_000.0)))
    assert [v.passed for v in comparison_verdicts(comparison)] == [True]
    assert not comparison_passed(comparison)  # 100 000 msg/s misses the fanout preset's 300 000


def test_tls_run_report_shows_handshakes_and_memory_per_tls_connection() -> None:
    result = _result(350_000.0, tls=True)
    text = render_text(result, "test")
    assert "mutual TLS" in text
    assert "handshakes   220/s" in text
    assert "server 1.82 ms CPU each" in text
    assert "40.00 KiB per TLS connection" in text
    document = to_json(result, "test")
    assert document["transport"] == "tls"
    assert document["handshakes_per_s"] == pytest.approx(220.0)
    assert document["connect_server_cpu_s"] == 0.02


def _plan(*argv: str) -> Plan:
    return plan_from_args(build_parser().parse_args(["bench", *argv]))


def test_plan_modes() -> None:
    assert _plan("fanout").mode is Mode.TCP
    assert _plan("idle", "--tls").mode is Mode.TLS
    assert _plan("steady", "--compare-tls", "--tls").mode is Mode.COMPARE
    assert _plan("fanout", "--tls").target_tls is None  # the bench's own server: identities made for it


def test_plan_takes_a_targets_identity_from_files(tmp_path: Path) -> None:
    files = [
        "--ca",
        str(tmp_path / "ca.pem"),
        "--cert",
        str(tmp_path / "c.pem"),
        "--key",
        str(tmp_path / "c.key"),
    ]
    plan = _plan("fanout", "--tls", "--target", "localhost:8089", *files)
    assert plan.target_tls is not None
    assert plan.target_tls.server_name == "localhost"
    assert plan.target_tls.receiver == ClientFiles(tmp_path / "c.pem", tmp_path / "c.key")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["fanout", "--compare-tls", "--target", "127.0.0.1:8087"], "drop --target"),
        (["idle", "--compare-tls"], "idle delivers none"),
        (["fanout", "--tls", "--target", "127.0.0.1:8089", "--ca", "ca.pem"], "--ca, --cert and --key"),
        (["fanout", "--cert", "c.pem"], "only apply with --tls --target"),
        (["fanout", "--tls", "--key", "c.key"], "only apply with --tls --target"),
    ],
)
def test_plan_refuses_conflicting_tls_options(argv: list[str], message: str) -> None:
    with pytest.raises(BenchError, match=message):
        _plan(*argv)

"""``rallypoint bench peers`` end to end: taky from PyPI and Rallypoint, the same scenario, one run.

Skipped only where taky cannot be installed (no route to PyPI); once installed, both servers must
deliver every message flat out and paced, and the ratio must be what the rates say. No timing is
judged: the counts are bounded (``max_messages``), the long durations only bound a stuck run."""

import json
from pathlib import Path

import pytest

from rallypoint.bench.errors import BenchError
from rallypoint.bench.peers import per_cpu_second
from rallypoint.bench.taky import install_taky
from rallypoint.cli import main


@pytest.fixture(scope="module")
def taky_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    try:
        return install_taky(tmp_path_factory.mktemp("taky"))
    except BenchError as exc:
        pytest.skip(f"taky cannot be installed here: {exc}")


@pytest.mark.timeout(600)
def test_peers_measures_taky_and_rallypoint_in_one_run(
    taky_venv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["bench", "peers", "--taky-venv", str(taky_venv), "--clients", "3", "--warmup", "0"]
    args += ["--duration", "60", "--grace", "60", "--max-messages", "300", "--json"]
    code = main(args)
    document = json.loads(capsys.readouterr().out)
    assert code in (0, 1)  # 1: a target missed, which a loaded test machine may well do
    rows = {row["server"]: row for row in document["runs"]}
    assert set(rows) == {"taky", "rallypoint"}
    for row in rows.values():
        assert row["delivery_ratio"] == 1.0
        assert row["paced_delivery_ratio"] == 1.0
        assert row["paced_rate_per_s"] > 0
        assert row["paced_p99_ms"] is not None
    expected = rows["rallypoint"]["delivered_per_s"] / rows["taky"]["delivered_per_s"]
    assert document["peer_ratio"] == pytest.approx(expected)
    for row in rows.values():  # the rate with each server's share of a core taken out
        per_cpu = row["delivered_per_s"] / (row["server_cpu_percent"] / 100.0)
        assert row["delivered_per_cpu_s"] == pytest.approx(per_cpu)
    per_cpu_ratio = rows["rallypoint"]["delivered_per_cpu_s"] / rows["taky"]["delivered_per_cpu_s"]
    assert document["per_cpu_second_ratio"] == pytest.approx(per_cpu_ratio)


def test_per_cpu_second_takes_the_share_of_a_core_out() -> None:
    assert per_cpu_second(1000.0, 50.0) == pytest.approx(2000.0)
    assert per_cpu_second(1000.0, 200.0) == pytest.approx(500.0)  # two cores busy
    assert per_cpu_second(None, 50.0) is None
    assert per_cpu_second(1000.0, 0.0) is None  # no CPU reading: no figure, not infinity
    assert per_cpu_second(1000.0, None) is None

"""``rallypoint bench missions`` end to end, small: its own server process, a few subscribers."""

import json

import pytest

from rallypoint.bench.missions import targets_met
from rallypoint.cli import main


def test_bench_missions_reports_fan_out_latency(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["bench", "missions", "--clients", "3", "--changes", "4", "--json"])
    document = json.loads(capsys.readouterr().out)
    assert status == (0 if all(document["targets"].values()) else 1)  # the p99 target is the bench's call
    assert (document["clients"], document["changes"], document["notifications"], document["missing"]) == (
        3,
        4,
        12,
        0,
    )
    assert 0 < document["p50_ms"] <= document["p95_ms"] <= document["p99_ms"] <= document["max_ms"]
    assert document["targets"]["all_delivered"] is True
    assert isinstance(document["targets"]["p99"], bool)


def test_targets() -> None:
    assert targets_met({"missing": 1, "p99_ms": 1.0}, 10.0) == {"all_delivered": False, "p99": True}
    assert targets_met({"missing": 0, "p99_ms": None}, 10.0) == {"all_delivered": True, "p99": False}


def test_refuses_a_target(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "missions", "--target", "127.0.0.1:8087"]) == 2
    assert "drop --target" in capsys.readouterr().err

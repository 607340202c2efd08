"""``bench fanout --compare-store`` arithmetic and reports, and ``bench store`` end to end."""

import json

import pytest

from rallypoint.bench.compare_store import STORE_COMPARE_ORDER, STORE_RATIO_TARGET, StoreComparison
from rallypoint.bench.report import passed, to_document, to_text
from rallypoint.cli import main
from tests.unit.test_bench_tls import _result


def _comparison(off: tuple[float, float], on: tuple[float, float]) -> StoreComparison:
    runs = (_result(off[0]), _result(on[0]), _result(off[1]), _result(on[1]))
    return StoreComparison(runs, STORE_COMPARE_ORDER)


def test_ratio_is_the_mean_with_store_over_the_mean_without() -> None:
    comparison = _comparison((150_000.0, 130_000.0), (120_000.0, 112_000.0))
    assert comparison.off_per_s == 140_000.0
    assert comparison.on_per_s == 116_000.0
    assert comparison.ratio == pytest.approx(116 / 140)
    assert comparison.passed
    assert passed(comparison)
    assert not _comparison((150_000.0, 150_000.0), (110_000.0, 110_000.0)).passed  # 0.733


def test_reports_name_every_run_and_the_ratio() -> None:
    comparison = _comparison((100_000.0, 100_000.0), (90_000.0, 90_000.0))
    text = to_text(comparison, "test")
    assert "== run 2 of 4: store on ==" in text
    assert "on/off       0.900" in text
    assert f"PASS  {STORE_RATIO_TARGET}" in text
    document = json.loads(json.dumps(to_document(comparison, "test")))
    assert document["comparison"]["order"] == ["off", "on", "off", "on"]
    assert document["comparison"][STORE_RATIO_TARGET.metric] == pytest.approx(0.9)
    assert len(document["runs"]) == 4
    assert document["passed"] is True


def test_bench_store_measures_sqlite(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "store", "--events", "2000", "--json"]) == 0
    (result,) = json.loads(capsys.readouterr().out)["store"]
    assert result["store"].startswith("sqlite")
    assert result["events"] == 2000
    assert result["events_per_s"] > 0


def test_bench_store_refuses_a_bad_url(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "store", "--events", "10", "--store-url", "mysql://nowhere"]) == 2
    assert "sqlite:///path or postgresql" in capsys.readouterr().err

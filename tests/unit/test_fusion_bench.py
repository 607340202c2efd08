"""``rallypoint bench fusion`` on a small scenario, with and without the Stone Soup baseline."""

import argparse
import json

import pytest

from rallypoint.bench.command import add_bench_parser
from rallypoint.bench.fusion import run_fusion_bench
from rallypoint.fusion.evaluate import EngineTracker, evaluate
from rallypoint.fusion.simulate import ScenarioSpec, build_scenario


def _args(*extra: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_bench_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(["bench", "fusion", "--duration", "40", "--aircraft", "4", *extra])


def test_engine_scores_well_on_the_seeded_scenario() -> None:
    scenario = build_scenario(ScenarioSpec(duration_s=90.0, aircraft=8))
    result = evaluate(scenario, EngineTracker(scenario))
    assert result.duplicate_tracks == 0
    assert result.id_switches == 0
    assert result.mean_ospa < 20.0
    assert result.reports > 1000


def test_bench_without_baseline_prints_json(capsys: pytest.CaptureFixture[str]) -> None:
    """The accuracy target decides the exit code here; the speed target (``--min-rate``) is the
    bench's to judge on a quiet machine, so it is set to nothing."""
    code = run_fusion_bench(_args("--no-baseline", "--json", "--min-rate", "0"))
    document = json.loads(capsys.readouterr().out)
    assert code == 0
    assert document["stonesoup"] is None
    assert document["rallypoint"]["duplicate_tracks"] == 0
    assert document["targets"] == {"zero duplicate tracks": True, "≥ 0 reports/s": True}
    assert document["rallypoint"]["reports"] > 0
    rates = document["rallypoint"]
    assert rates["identified_reports_per_s"] > 0
    assert rates["identified_reports_per_cpu_s"] > 0


def test_bench_compares_with_stone_soup(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("stonesoup")
    run_fusion_bench(_args("--duration", "25", "--min-rate", "1000"))
    out = capsys.readouterr().out
    assert "stonesoup" in out
    assert "target OSPA ≤ Stone Soup: met" in out

"""``rallypoint bench cluster`` end to end: node processes on real NATS and PostgreSQL.

It checks that every run completes and reports what it counted, never a timing; a phase ends
once its sender reached ``--max-messages`` and every fence is back."""

import json

import pytest

from rallypoint.cli import main
from tests.cluster_support import cluster_store, nats_url, postgres_url

__all__ = ["cluster_store", "nats_url", "postgres_url"]  # fixtures


def test_bench_cluster_reports_each_setup(
    cluster_store: str, nats_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    options = ["--clients", "3", "--max-messages", "100", "--duration", "60", "--warmup", "0"]
    code = main(
        ["bench", "cluster", "--store-url", cluster_store, "--nats-url", nats_url, *options, "--json"]
    )
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert [run["nodes"] for run in report["runs"]] == [0, 1, 2, 3]
    assert [run["delivery_ratio"] for run in report["runs"]] == [1.0, 1.0, 1.0, 1.0]
    assert report["cluster_one_node_to_embedded_ratio"] > 0


def test_bench_cluster_needs_postgresql(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "cluster"]) == 2
    assert "postgresql" in capsys.readouterr().err

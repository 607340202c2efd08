"""``rallypoint bench federation`` end to end: two NATS servers, two server processes, the link cut.

It checks what the run counted (every event made during the outage arrived once), never a timing."""

import json

import pytest

from rallypoint.cli import main
from tests.cluster_support import nats_binary


def test_bench_federation_counts_every_event_across_once(capsys: pytest.CaptureFixture[str]) -> None:
    nats_binary()  # skips, with the reason, when nats-server is absent
    code = main(["bench", "federation", "--events", "300", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert (report["events"], report["arrived"], report["duplicates"]) == (300, 300, 0)
    assert report["catch_up_per_s_from_restore"] > 0
    assert report["from_first_s"] <= report["from_restore_s"]

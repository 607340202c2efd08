"""``rallypoint bench faults`` end to end, small: its own server process killed and restarted,
a device behind the fault proxy, one offline. Checks what it counted, never how fast."""

import json

import pytest

from rallypoint.bench.fault_clients import Device, Sender
from rallypoint.bench.fault_run import Observed
from rallypoint.bench.faults import tally
from rallypoint.bench.netns import namespaces_unavailable
from rallypoint.bench.results import Latency
from rallypoint.cli import main


def test_a_small_fault_run_loses_and_reorders_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    arguments = ["--devices", "4", "--offline", "1", "--bad", "1", "--chats", "10", "--kills", "1"]
    status = main(["bench", "faults", *arguments, "--seed", "3", "--json"])
    document = json.loads(capsys.readouterr().out)
    assert status == 0
    # baseline 2 x 10, bad link 3 x 10, kept 1 x 10, one kill round 4 x 10, a last chat to each of 4
    assert document["sent"] == 20 + 30 + 10 + 40 + 4
    assert (document["lost"], document["reordered"], document["refused"]) == (0, 0, 0)
    assert document["delivered"] == document["accepted"]
    assert document["accepted"] + document["unconfirmed"] == document["sent"]
    assert document["accepted"] >= 20 + 30 + 10 + 4 + document["kill_points"][0]
    assert document["kept"] == 10
    assert len(document["kill_points"]) == 1
    assert document["healthy_latency_without_bad_link"]["samples"] == 20
    assert document["healthy_latency_with_bad_link"]["samples"] == 20
    assert document["targets"] == {"lost": True, "reordered": True}


def test_a_device_out_of_coverage_on_a_real_link_loses_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    reason = namespaces_unavailable()
    if reason is not None:
        pytest.skip(reason)
    arguments = ["--devices", "4", "--offline", "1", "--bad", "1", "--chats", "10", "--kills", "1", "--netns"]
    status = main(["bench", "faults", *arguments, "--seed", "3", "--json"])
    document = json.loads(capsys.readouterr().out)
    assert status == 0
    assert document["bad_link"] == "namespace link"
    assert document["sent"] > 20 + 30 + 10 + 40 + 4  # and the chats sent while the device was away
    assert (document["lost"], document["reordered"], document["refused"]) == (0, 0, 0)
    assert document["delivered"] == document["accepted"]
    assert document["accepted"] + document["unconfirmed"] == document["sent"]


def test_the_tally_counts_repeats_late_arrivals_losses_and_chats_nobody_acknowledged() -> None:
    sender, device = Sender("POST", "post"), Device("TEAM", "team")
    sender.sent["team"] = ["a", "b", "c", "d", "e"]
    sender.kept = {"c", "d"}  # d is kept but never arrives: lost
    device.chats = ["b", "a", "b", "c"]  # a after b: reordered; b twice: one repeat
    device.first_arrival_ns = {"b": 1, "a": 2, "c": 3}
    none = Latency.from_samples([])
    counts = tally(Observed(sender, [device], none, none, 0, 0.0, []))
    assert counts == {
        "sent": 5,
        "accepted": 4,
        "delivered": 3,
        "lost": 1,
        "duplicated": 1,
        "reordered": 1,
        "unconfirmed": 1,
        "refused": 0,
    }

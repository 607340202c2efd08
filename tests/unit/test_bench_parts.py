"""The bench's pure parts: messages, scenarios, /proc parsing, percentiles, report, options."""

import asyncio
import json
import os
from dataclasses import replace

import pytest

from rallypoint.bench import proc
from rallypoint.bench.command import parse_address
from rallypoint.bench.errors import BenchError
from rallypoint.bench.messages import FENCE_TYPE, fence_bytes, stamped_pli
from rallypoint.bench.report import render_text, to_json, verdicts
from rallypoint.bench.results import BenchResult, ConnectPhase, Latency, ServerUsage
from rallypoint.bench.scenarios import PRESETS, Target, scenario_from_args
from rallypoint.bench.tally import Tally
from rallypoint.cli import build_parser
from rallypoint.cot.negotiation import WireFormat
from rallypoint.cot.protobuf import proto_to_event
from rallypoint.cot.xml import parse_event
from tests.conftest import stream_payloads

NOW_MS = 1_700_000_000_000


def test_stamped_xml_is_a_position_report_carrying_the_stamp() -> None:
    message = stamped_pli("bench-abc-0", "BENCH-0", NOW_MS, WireFormat.XML)
    event = parse_event(message.render(123_456_789))
    assert event.uid == "bench-abc-0"
    assert event.is_situational_awareness
    assert event.stale > NOW_MS
    assert event.detail is not None
    assert "<remarks>rpbench:00000000000123456789</remarks>" in event.detail.xml
    assert len(message.render(1)) == len(message.render(10**19)) == len(message)


def test_stamped_protobuf_frames_decode_to_the_same_report() -> None:
    message = stamped_pli("bench-abc-1", "BENCH-1", NOW_MS, WireFormat.PROTOBUF)
    payloads = stream_payloads(message.render_batch(42, 3))
    assert len(payloads) == 3
    event = proto_to_event(payloads[0])
    assert event is not None
    assert event.uid == "bench-abc-1"
    assert event.callsign == "BENCH-1"
    assert event.detail is not None
    assert "rpbench:00000000000000000042" in event.detail.xml


@pytest.mark.parametrize("wire_format", [WireFormat.XML, WireFormat.PROTOBUF])
def test_fence_is_routed_but_never_replaced(wire_format: WireFormat) -> None:
    data = fence_bytes("bench-abc-0-fence", NOW_MS, wire_format)
    event = parse_event(data) if wire_format is WireFormat.XML else proto_to_event(stream_payloads(data)[0])
    assert event is not None
    assert event.type == FENCE_TYPE
    assert not event.is_situational_awareness  # so no outbox ever replaces it
    assert b"rpbench-fence" in data


@pytest.mark.parametrize(
    ("target", "value", "passed"),
    [
        (Target("m", ">=", 10), 10.0, True),
        (Target("m", ">=", 10), 9.9, False),
        (Target("m", "<", 10), 9.9, True),
        (Target("m", "<", 10), 10.0, False),
        (Target("m", "==", 1), 1.0, True),
        (Target("m", "==", 1), 0.999, False),
        (Target("m", "==", 1), 1.001, False),
        (Target("m", "<", 10), None, False),
    ],
)
def test_target_check(target: Target, value: float | None, passed: bool) -> None:
    assert target.passed(value) is passed


def test_presets_are_the_issue_scenarios() -> None:
    fanout, steady, idle = PRESETS["fanout"], PRESETS["steady"], PRESETS["idle"]
    assert (fanout.clients, fanout.senders, fanout.rate) == (10, 1, 0.0)
    assert (steady.clients, steady.senders, steady.rate) == (100, 10, 100.0)
    assert (idle.clients, idle.senders, idle.idle) == (10_000, 0, True)
    assert {str(t) for t in fanout.targets} == {
        "delivered_per_s >= 300000",
        "delivery_ratio == 1",
        "latency_p99_ms < 100",
    }


@pytest.mark.parametrize(
    "overrides",
    [
        {"senders": 0},
        {"clients": 0},
        {"duration_s": 0.0},
        {"rate": -1.0},
        {"max_messages": 0},
        {"grace_s": 1e9},
    ],
)
def test_scenario_refuses_unbounded_or_empty_runs(overrides: dict[str, float]) -> None:
    with pytest.raises(BenchError):
        PRESETS["fanout"].with_overrides(**overrides)


def test_scenario_overrides_skip_none() -> None:
    changed = PRESETS["steady"].with_overrides(clients=5, senders=None)
    assert (changed.clients, changed.senders) == (5, 10)


def test_options_override_the_preset() -> None:
    args = build_parser().parse_args(
        ["bench", "fanout", "--clients", "3", "--format", "protobuf", "--rate", "50"]
    )
    scenario = scenario_from_args(args)
    assert (scenario.name, scenario.clients, scenario.senders, scenario.rate) == ("fanout", 3, 1, 50.0)
    assert scenario.wire_format is WireFormat.PROTOBUF


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [("127.0.0.1:8087", "127.0.0.1", 8087), ("localhost:1", "localhost", 1), ("[::1]:9", "::1", 9)],
)
def test_parse_address_accepts_loopback(text: str, host: str, port: int) -> None:
    assert parse_address(text) == (host, port)


@pytest.mark.parametrize("text", ["10.0.0.1:8087", "example.org:8087", "127.0.0.1", "127.0.0.1:0", ":8087"])
def test_parse_address_refuses_remote_or_malformed(text: str) -> None:
    with pytest.raises(BenchError):
        parse_address(text)


def test_parse_address_remote_when_allowed() -> None:
    assert parse_address("10.0.0.1:8087", allow_remote=True) == ("10.0.0.1", 8087)


def test_latency_percentiles_are_nearest_rank() -> None:
    latency = Latency.from_samples([ms * 1_000_000 for ms in range(100, 0, -1)])
    assert (latency.samples, latency.p50_ms, latency.p95_ms, latency.p99_ms) == (100, 50.0, 95.0, 99.0)
    assert Latency.from_samples([]) == Latency(0, None, None, None)


def test_proc_parsers() -> None:
    assert proc.parse_rss_kib("Name:\tx\nVmRSS:\t  1234 kB\nVmSwap:\t0 kB\n") == 1234
    stat = "42 (odd) name) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 5 0 0"
    assert proc.parse_cpu_seconds(stat, 100) == 3.0


def test_proc_sample_reads_this_process() -> None:
    sample = proc.sample(os.getpid())
    assert sample.rss_kib > 0
    assert sample.cpu_s > 0
    assert proc.cpu_percent(proc.ProcSample(0, 1.0), proc.ProcSample(0, 1.5), 2.0) == 25.0


def test_proc_sample_of_a_missing_process() -> None:
    with pytest.raises(BenchError):
        proc.sample(2**22 + 1)  # above the largest pid Linux hands out


RESULT = BenchResult(
    scenario=PRESETS["fanout"],
    address="127.0.0.1:8087",
    sent=1000,
    expected=10_000,
    received=10_000,
    elapsed_s=0.02,
    latency=Latency(10, 1.0, 2.0, 3.0),
    connections_lost=0,
    connect=ConnectPhase(11, 0.01, 0.005),
    server=ServerUsage(1000, 1100, 1500, 11, 95.0),
)


def test_verdicts_follow_the_measured_values() -> None:
    checked = verdicts(RESULT)
    assert [v.passed for v in checked] == [True, True, True]
    assert [v.passed for v in verdicts(replace(RESULT, received=9_000))] == [True, False, True]


def test_json_report_carries_every_number() -> None:
    document = json.loads(json.dumps(to_json(RESULT, "test")))
    assert document["delivered_per_s"] == 500_000
    assert document["delivery_ratio"] == 1.0
    assert document["latency_ms"] == {"p50": 1.0, "p95": 2.0, "p99": 3.0, "samples": 10}
    assert document["server_rss_kib"]["per_connection"] == pytest.approx(100 / 11)
    assert document["passed"] is True
    assert len(document["targets"]) == 3


def test_text_report_without_server_usage() -> None:
    text = render_text(replace(RESULT, server=None, latency=Latency(0, None, None, None)), "running server")
    assert "not measured" in text
    assert "n/a" in text
    assert "FAIL  latency_p99_ms < 100" in text


async def test_tally_window_wakes_senders_when_half_is_free() -> None:
    tally = Tally(asyncio.get_running_loop(), clients=2, window=10)
    woken: list[str] = []
    tally.sent = 10
    assert tally.room() == 0
    tally.wait_for_room(lambda: woken.append("sender"))
    tally.add(8, b"")  # 4 messages reached both clients: not yet half the window
    assert (tally.room(), woken) == (4, [])
    tally.add(2, b"")
    assert (tally.room(), woken) == (5, ["sender"])


async def test_tally_is_fenced_when_every_fence_arrived() -> None:
    tally = Tally(asyncio.get_running_loop(), clients=2)
    tally.add(3, b"rpbench:00000000000000000001")
    assert len(tally.samples_ns) == 1
    tally.expect_fences(2)
    tally.add(2, b"")
    tally.add_fences(1)
    assert not tally.fenced.done()
    tally.add(1, b"")
    tally.add_fences(1)
    assert tally.fenced.done()
    assert (tally.received, tally.delivered) == (6, 4)


async def test_tally_without_fences_to_wait_for() -> None:
    tally = Tally(asyncio.get_running_loop())
    tally.expect_fences(0)
    assert tally.fenced.done()

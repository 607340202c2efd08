"""Display latency on the scenario's own clock: emitting on update, bounded per track, waits at
most the interval; the former per-tick flush held reports up to the tick after the interval."""

from rallypoint.bench.fusion_latency import FORMER_INTERVAL_MS, display_latency, latency_document
from rallypoint.fusion.simulate import ScenarioSpec, build_scenario


def test_on_update_waits_at_most_the_interval_and_beats_the_tick() -> None:
    scenario = build_scenario(ScenarioSpec(duration_s=40.0, aircraft=4))
    on_update = display_latency(scenario, min_interval_ms=100, per_tick=False)
    former = display_latency(scenario, min_interval_ms=FORMER_INTERVAL_MS, per_tick=True)
    assert on_update.reports == former.reports > 100  # every track-updating report, both ways
    assert on_update.max_ms <= 100
    assert on_update.p50_ms == 0  # most reports go out as they arrive
    assert former.max_ms > FORMER_INTERVAL_MS  # held past its interval until the next tick
    assert former.mean_ms > 5 * on_update.mean_ms


def test_the_rate_stays_bounded_per_track() -> None:
    scenario = build_scenario(ScenarioSpec(duration_s=40.0, aircraft=4))
    document = latency_document(scenario, 100)
    tracks_by_time = len(scenario.objects) * 40.0 / 0.1
    assert document["on_update"]["events_out"] <= tracks_by_time
    assert document["on_update"]["events_out"] >= document["per_tick_former"]["events_out"]

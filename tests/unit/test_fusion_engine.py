"""The fusion engine on hand-made reports and on seeded scenarios."""

import itertools
import math
import random

import pytest

from rallypoint.errors import FusionError
from rallypoint.fusion.engine import FusionConfig, FusionEngine
from rallypoint.fusion.geo import LocalFrame
from rallypoint.fusion.kinematics import ConstantVelocity
from rallypoint.fusion.report import Domain, Report
from rallypoint.fusion.simulate import ScenarioSpec, build_scenario
from rallypoint.fusion.track import SourceInfo, Track

ORIGIN = LocalFrame(50.78, -1.10)
T0 = 1_767_225_600_000


def report(
    identity: str | None,
    t_s: float,
    east: float,
    north: float,
    *,
    source: str = "adsb-north",
    kind: str = "adsb",
    delay_s: float = 0.3,
    sigma: float = 10.0,
    velocity: tuple[float, float] | None = None,
    domain: Domain = Domain.AIR,
    callsign: str | None = None,
) -> Report:
    lat, lon, _ = ORIGIN.to_geodetic(east, north)
    course = speed = None
    if velocity is not None:
        course = math.degrees(math.atan2(*velocity)) % 360.0
        speed = math.hypot(*velocity)
    time_ms = T0 + int(t_s * 1000)
    return Report(
        source, kind, identity, time_ms, time_ms + int(delay_s * 1000), lat, lon, 3000.0 if domain is Domain.AIR else None,
        course, speed, sigma, domain, callsign,
    )  # fmt: skip


def flight(identity: str, seconds: int, *, offset: float = 0.0, source: str = "adsb-north", delay_s: float = 0.3,
           seed: int = 1, speed: float = 150.0) -> list[Report]:  # fmt: skip
    """An aircraft flying north at ``speed``, ``offset`` metres east, one noisy report a second."""
    rng = random.Random(seed)
    return [
        report(identity, t, offset + rng.gauss(0, 10), speed * t + rng.gauss(0, 10), source=source, delay_s=delay_s,
               velocity=(0.0, speed))
        for t in range(seconds)
    ]  # fmt: skip


def ingest_in_arrival_order(engine: FusionEngine, reports: list[Report]) -> None:
    for r in sorted(reports, key=lambda r: r.received_ms):
        engine.ingest(r, r.received_ms)


def enu(track_position: tuple[float, float, float | None]) -> tuple[float, float]:
    east, north, _ = ORIGIN.to_enu(track_position[0], track_position[1])
    return east, north


def test_one_identity_one_track_with_provenance() -> None:
    engine = FusionEngine()
    updates = engine.ingest(report("icao:3c6444", 0, 0.0, 0.0, callsign="DLH1"), T0 + 300)
    assert [u.deleted for u in updates] == [False]
    track = updates[0].track
    assert track.uid == "fused-icao-3c6444"
    assert track.identities == ("icao:3c6444",)
    assert track.callsign == "DLH1"
    info = track.sources["adsb-north"]
    assert (info.kind, info.identity, info.last_report_ms, info.sigma_m, info.count) == (
        "adsb", "icao:3c6444", T0, 10.0, 1
    )  # fmt: skip


def test_two_adsb_receivers_make_one_track_per_aircraft() -> None:
    engine = FusionEngine()
    reports = []
    for number in range(3):
        identity = f"icao:{number:06x}"
        reports += flight(identity, 60, offset=5000.0 * number, seed=number)
        reports += [
            r._replace(source="adsb-south", received_ms=r.received_ms + 2500) for r in reports[-60:][::2]
        ]
    ingest_in_arrival_order(engine, reports)
    tracks = engine.tracks()
    assert sorted(t.uid for t in tracks) == ["fused-icao-000000", "fused-icao-000001", "fused-icao-000002"]
    for track in tracks:
        assert set(track.sources) == {"adsb-north", "adsb-south"}
        assert track.sources["adsb-south"].count == 30
    assert engine.counters.duplicates == 90  # the same broadcast heard twice is not fused twice


def test_late_receiver_does_not_drag_the_track_back() -> None:
    """No ping-pong: the estimate follows observation time, whichever receiver is late."""
    engine = FusionEngine()
    fast = flight("icao:000001", 30, delay_s=0.2, seed=3)
    slow = [r._replace(source="adsb-south", received_ms=r.received_ms + 3000, lat=r.lat + 1e-7) for r in fast]
    norths = []
    for r in sorted(fast + slow, key=lambda r: r.received_ms):
        for update in engine.ingest(r, r.received_ms):
            norths.append(enu(update.track.position(r.received_ms))[1])
    assert all(b > a - 50.0 for a, b in itertools.pairwise(norths))
    assert engine.counters.late_reprocessed > 0


def test_out_of_order_reports_match_in_order_processing() -> None:
    reports = flight("icao:0000aa", 40, seed=5)
    in_order, shuffled = FusionEngine(), FusionEngine()
    for r in reports:
        in_order.ingest(r, r.received_ms)
    rng = random.Random(9)
    jumbled = reports[:1] + sorted(reports[1:], key=lambda r: r.time_ms + rng.uniform(0, 6000))
    for r in jumbled:
        shuffled.ingest(r, T0 + 60_000)
    a, b = in_order.tracks()[0], shuffled.tracks()[0]
    assert a.time_ms == b.time_ms
    assert enu(a.position()) == pytest.approx(enu(b.position()), abs=1e-3)
    assert a.state.p_pos == pytest.approx(b.state.p_pos)
    assert shuffled.counters.late_dropped == 0


def test_report_older_than_the_history_is_dropped_not_applied() -> None:
    engine = FusionEngine(FusionConfig(history_length=4, max_lag_ms=60_000))
    reports = flight("icao:0000bb", 20, seed=2)
    for r in reports[1:]:
        engine.ingest(r, r.received_ms)
    before = engine.tracks()[0]
    engine.ingest(reports[0]._replace(lat=reports[0].lat + 0.1), T0 + 30_000)
    after = engine.tracks()[0]
    assert engine.counters.late_dropped == 1
    assert after.state == before.state
    assert after.sources["adsb-north"].count == 20


def test_formation_pair_200m_apart_with_distinct_identities_never_merges() -> None:
    engine = FusionEngine()
    reports = flight("icao:00f001", 120, seed=11) + flight("icao:00f002", 120, offset=200.0, seed=12)
    ingest_in_arrival_order(engine, reports)
    tracks = {t.uid: t for t in engine.tracks()}
    assert set(tracks) == {"fused-icao-00f001", "fused-icao-00f002"}
    gap = enu(tracks["fused-icao-00f002"].position())[0] - enu(tracks["fused-icao-00f001"].position())[0]
    assert gap == pytest.approx(200.0, abs=30.0)


def test_ais_vessel_linked_to_team_pli_by_alias() -> None:
    config = FusionConfig(aliases={"mmsi:227006760": "uid:Rescue-3"})
    engine = FusionEngine(config)
    for t in range(0, 120, 10):
        engine.ingest(report("mmsi:227006760", t, 5.0 * t, 0.0, source="ais", kind="ais", domain=Domain.SEA,
                             velocity=(5.0, 0.0)), T0 + t * 1000 + 500)  # fmt: skip
    for t in range(2, 120, 5):
        engine.ingest(report("uid:Rescue-3", t, 5.0 * t + 3, 2.0, source="tak", kind="cot", domain=Domain.GROUND,
                             sigma=5.0, callsign="Rescue 3"), T0 + t * 1000 + 300)  # fmt: skip
    (track,) = engine.tracks()
    assert track.uid == "fused-uid-Rescue-3"
    assert set(track.identities) == {"mmsi:227006760", "uid:Rescue-3"}
    assert set(track.sources) == {"ais", "tak"}
    assert track.domain is Domain.SEA  # the phone says ground; the boat's AIS knows better
    assert track.callsign == "Rescue 3"


def test_alias_set_at_runtime_merges_two_tracks() -> None:
    engine = FusionEngine()
    engine.ingest(report("mmsi:1", 0, 0.0, 0.0, source="ais", kind="ais", domain=Domain.SEA), T0 + 1000)
    engine.ingest(report("uid:Boat", 1, 5.0, 0.0, source="tak", kind="cot", domain=Domain.GROUND), T0 + 2000)
    assert len(engine.tracks()) == 2
    updates = engine.set_alias("mmsi:1", "uid:Boat")
    assert [(u.track.uid, u.deleted) for u in updates] == [("fused-mmsi-1", True), ("fused-uid-Boat", False)]
    (track,) = engine.tracks()
    assert set(track.identities) == {"mmsi:1", "uid:Boat"}
    assert engine.counters.tracks_merged == 1
    engine.ingest(report("mmsi:1", 2, 10.0, 0.0, source="ais", kind="ais", domain=Domain.SEA), T0 + 3000)
    assert [t.uid for t in engine.tracks()] == ["fused-uid-Boat"]
    engine.set_alias("mmsi:1", None)
    engine.ingest(report("mmsi:1", 3, 15.0, 0.0, source="ais", kind="ais", domain=Domain.SEA), T0 + 4000)
    assert sorted(t.uid for t in engine.tracks()) == ["fused-mmsi-1", "fused-uid-Boat"]


def test_alias_cycles_are_refused() -> None:
    engine = FusionEngine(FusionConfig(aliases={"a:1": "a:2", "a:2": "a:3"}))
    with pytest.raises(FusionError):
        engine.set_alias("a:3", "a:1")
    with pytest.raises(FusionError):
        engine.set_alias("a:1", "a:1")
    assert engine.aliases() == {"a:1": "a:2", "a:2": "a:3"}


def test_deletion_after_domain_silence() -> None:
    engine = FusionEngine()
    engine.ingest(report("icao:1", 0, 0.0, 0.0), T0 + 300)
    engine.ingest(report("mmsi:2", 0, 0.0, 0.0, kind="ais", domain=Domain.SEA), T0 + 300)
    coasting = engine.tick(T0 + 16_000)
    assert [(u.track.uid, u.deleted, u.track.coasting) for u in coasting] == [("fused-icao-1", False, True)]
    assert engine.tick(T0 + 30_000) == []
    gone = engine.tick(T0 + 61_000)
    assert [(u.track.uid, u.deleted) for u in gone] == [("fused-icao-1", True)]
    assert [t.uid for t in engine.tracks()] == ["fused-mmsi-2"]
    assert [u.track.uid for u in engine.tick(T0 + 901_000) if u.deleted] == ["fused-mmsi-2"]
    engine.ingest(report("icao:1", 70, 0.0, 0.0), T0 + 70_300)
    assert engine.counters.tracks_created == 3


def test_anonymous_reports_confirm_after_three_hits_and_join_identified_tracks() -> None:
    engine = FusionEngine()
    plots = [report(None, t, 0.0, 100.0 * t, source="radar", kind="sim", sigma=30.0) for t in range(0, 12, 4)]
    assert engine.ingest(plots[0], T0 + 300) == []
    assert engine.ingest(plots[1], T0 + 4300) == []
    (update,) = engine.ingest(plots[2], T0 + 8300)
    assert update.track.uid == "fused-anon-1"
    (adopted,) = engine.ingest(report("icao:abc", 9, 0.0, 900.0, velocity=(0.0, 100.0)), T0 + 9300)
    assert adopted.track.uid == "fused-anon-1"
    assert adopted.track.identities == ("icao:abc",)
    (joined,) = engine.ingest(
        report(None, 10, 5.0, 1000.0, source="radar", kind="sim", sigma=30.0), T0 + 10_300
    )
    assert joined.track.uid == "fused-anon-1"
    assert set(joined.track.sources) == {"radar", "adsb-north"}


def test_clutter_far_apart_never_confirms() -> None:
    engine = FusionEngine()
    rng = random.Random(4)
    for t in range(60):
        plot = report(None, t, rng.uniform(-40e3, 40e3), rng.uniform(-40e3, 40e3), source="radar", kind="sim")
        assert engine.ingest(plot, plot.received_ms) == []
        engine.tick(plot.received_ms)
    assert engine.tracks() == []


def test_batch_assigns_reports_one_to_one() -> None:
    engine = FusionEngine()
    for t in range(3):
        engine.ingest_many(
            [
                report(None, t, 0.0, 0.0, source="r", kind="sim"),
                report(None, t, 500.0, 0.0, source="r", kind="sim"),
            ],
            T0 + t * 1000 + 300,
        )
    tracks = sorted(engine.tracks(), key=lambda t: enu(t.position())[0])
    assert len(tracks) == 2
    assert enu(tracks[0].position())[0] == pytest.approx(0.0, abs=5.0)
    assert enu(tracks[1].position())[0] == pytest.approx(500.0, abs=5.0)


def test_bad_reports_are_counted_and_skipped() -> None:
    engine = FusionEngine()
    good = report("icao:1", 0, 0.0, 0.0)
    assert engine.ingest(good._replace(lat=math.nan), T0) == []
    assert engine.ingest(good._replace(lon=200.0), T0) == []
    assert engine.ingest(good._replace(sigma_m=0.0), T0) == []
    assert engine.ingest(good._replace(hae=math.inf), T0) == []
    assert engine.ingest(good, T0 - 60_000) == []  # an hour ahead of the clock: a broken timestamp
    assert (engine.counters.invalid, engine.counters.future, engine.counters.reports) == (4, 1, 0)


def test_track_cap_is_enforced() -> None:
    engine = FusionEngine(FusionConfig(max_tracks=2))
    for number in range(4):
        engine.ingest(report(f"icao:{number}", 0, 1000.0 * number, 0.0), T0 + 300)
    assert len(engine.tracks()) == 2
    assert engine.counters.over_capacity == 2


def test_long_flight_is_reanchored_without_a_jump() -> None:
    engine = FusionEngine()
    positions = []
    for r in flight("icao:77", 200, speed=250.0, seed=8):
        (update,) = engine.ingest(r, r.received_ms)
        positions.append(enu(update.track.position()))
    assert positions[-1][1] == pytest.approx(250.0 * 199, abs=30.0)
    steps = [b[1] - a[1] for a, b in itertools.pairwise(positions)]
    assert max(steps) < 300.0
    assert min(steps) > 200.0


def test_seeded_scenario_one_track_per_object_no_duplicates() -> None:
    scenario = build_scenario(ScenarioSpec(seed=3, duration_s=60.0, aircraft=6, vessels=2, teams=2))
    engine = FusionEngine(FusionConfig(aliases=scenario.aliases))
    for r in scenario.reports:
        engine.ingest(r, r.received_ms)
    identified = {frozenset(t.identities) for t in engine.tracks() if t.identities}
    expected = {frozenset(o.identities) for o in scenario.objects}
    assert identified == expected


def comparable(track: Track) -> tuple[object, ...]:
    """A track's fields with its frame (no equality of its own) replaced by the frame's origin."""
    return (*track._replace(frame=ORIGIN), track.frame.lat, track.frame.lon)


class _UnrecognisedModel(ConstantVelocity):
    """The default motion model under another type: the engine must take its generic path."""

    __slots__ = ()


def test_fused_fast_path_gives_the_same_tracks_as_the_swappable_parts() -> None:
    scenario = build_scenario(ScenarioSpec(seed=5, duration_s=40.0, aircraft=4, vessels=1, teams=1))
    config = FusionConfig(aliases=scenario.aliases)
    fast = FusionEngine(config)
    generic = FusionEngine(
        config, predictors={d: _UnrecognisedModel(m.q, m.q_up, m.q_turn) for d, m in config.models.items()}
    )
    for r in scenario.reports:
        ours = fast.ingest(r, r.received_ms)
        theirs = generic.ingest(r, r.received_ms)
        assert [(u.deleted, *comparable(u.track)) for u in ours] == [
            (u.deleted, *comparable(u.track)) for u in theirs
        ]
    assert [comparable(t) for t in fast.tracks()] == [comparable(t) for t in generic.tracks()]
    assert fast.counters == generic.counters


def test_late_report_after_reanchoring_matches_in_order_processing() -> None:
    """History states keep the frame they were computed in; reprocessing converts the one it starts from."""
    reports = flight("icao:0000cc", 60, speed=250.0, seed=6)
    late = reports[38]
    in_order, reordered = FusionEngine(), FusionEngine()
    for r in reports:
        in_order.ingest(r, r.received_ms)
    for r in reports[:38] + reports[39:45] + [late] + reports[45:]:
        reordered.ingest(r, r.received_ms)
    a, b = in_order.tracks()[0], reordered.tracks()[0]
    assert a.frame.lat != ORIGIN.lat  # 15 km north: the frame has moved since report 38
    assert reordered.counters.late_reprocessed == 1
    assert enu(a.position()) == pytest.approx(enu(b.position()), abs=0.05)
    assert (a.state.v_east, a.state.v_north) == pytest.approx((b.state.v_east, b.state.v_north), abs=1e-3)
    assert a.state.p_pos == pytest.approx(b.state.p_pos)


def test_snapshots_keep_their_provenance_while_the_track_moves_on() -> None:
    engine = FusionEngine()
    reports = flight("icao:0000dd", 3, seed=7)
    (first,) = engine.ingest(reports[0], reports[0].received_ms)
    for r in reports[1:]:
        engine.ingest(r, r.received_ms)
    (now,) = engine.tracks()
    assert first.track.sources["adsb-north"].count == 1
    assert now.sources["adsb-north"].count == 3
    assert now.sources == {"adsb-north": SourceInfo("adsb", "icao:0000dd", reports[2].time_ms, 10.0, 3)}
    assert "adsb-north" in now.sources
    assert "adsb-south" not in now.sources
    assert "SourceInfo" in repr(now.sources)

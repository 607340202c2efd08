"""The scenario simulator: seeded, complete, and shaped like the issue's scenario."""

from collections import Counter

from rallypoint.fusion.report import Domain
from rallypoint.fusion.simulate import EPOCH_MS, TRUTH_STEP_MS, ScenarioSpec, build_scenario

SMALL = ScenarioSpec(duration_s=60.0, aircraft=4, vessels=2, teams=2)


def test_same_seed_same_reports_other_seed_other_reports() -> None:
    first, again = build_scenario(SMALL), build_scenario(SMALL)
    assert first.reports == again.reports
    assert first.truth == again.truth
    other = build_scenario(ScenarioSpec(seed=8, duration_s=60.0, aircraft=4, vessels=2, teams=2))
    assert other.reports != first.reports


def test_scenario_has_every_kind_of_source_and_trouble() -> None:
    scenario = build_scenario(SMALL)
    reports = scenario.reports
    assert [r.received_ms for r in reports] == sorted(r.received_ms for r in reports)
    sources = Counter(r.source for r in reports)
    assert set(sources) == {"adsb-north", "adsb-south", "ais-coast", "tak", "aprs-is", "radar"}
    assert all(r.identity is None for r in reports if r.source == "radar")
    assert sum(1 for r in reports if r.received_ms - r.time_ms >= 2000 and r.source == "adsb-south") > 100
    keys = Counter((r.source, r.identity, r.time_ms) for r in reports if r.identity)
    assert any(count > 1 for count in keys.values())  # re-sent reports
    assert scenario.aliases == {"mmsi:235000000": "uid:Rescue-3", "aprs:TEAM0-9": "uid:ANDROID-0000",
                                "aprs:TEAM1-9": "uid:ANDROID-0001"}  # fmt: skip
    assert [o.domain for o in scenario.objects].count(Domain.AIR) == 4
    assert len(scenario.truth) == 60_000 // TRUTH_STEP_MS + 1
    assert scenario.truth[0][0] == EPOCH_MS


def test_formation_pair_flies_200m_apart() -> None:
    scenario = build_scenario(SMALL)
    for _, positions in scenario.truth[::20]:
        (e0, n0), (e1, n1) = positions[0], positions[1]
        assert ((e1 - e0) ** 2 + (n1 - n0) ** 2) ** 0.5 == 200.0 or abs(
            ((e1 - e0) ** 2 + (n1 - n0) ** 2) ** 0.5 - 200.0
        ) < 1e-6


def test_both_receivers_hear_the_same_broadcast() -> None:
    scenario = build_scenario(SMALL)
    north = {(r.identity, r.time_ms): (r.lat, r.lon) for r in scenario.reports if r.source == "adsb-north"}
    south = {(r.identity, r.time_ms): (r.lat, r.lon) for r in scenario.reports if r.source == "adsb-south"}
    shared = north.keys() & south.keys()
    assert len(shared) > 50
    assert all(north[key] == south[key] for key in shared)


def test_courses_are_measured_from_true_north_where_the_object_is() -> None:
    """Far from the scenario's origin the local north is turned (meridian convergence): a
    reported course is from the local north, as a real transponder's is."""
    import math

    from rallypoint.fusion.geo import LocalFrame, velocity_from_course
    from rallypoint.fusion.simulate import EPOCH_MS, TRUTH_STEP_MS, ScenarioSpec, build_scenario

    scenario = build_scenario(ScenarioSpec(duration_s=60.0, aircraft=6))
    index = {identity: i for i, obj in enumerate(scenario.objects) for identity in obj.identities}
    local_errors, raw_errors = [], []
    for report in scenario.reports:
        if report.kind != "adsb" or report.course is None or report.speed is None:
            continue
        step = (report.time_ms - EPOCH_MS) // TRUTH_STEP_MS
        if step + 1 >= len(scenario.truth):
            continue
        i = index[report.identity or ""]
        (e0, n0), (e1, n1) = scenario.truth[step][1][i], scenario.truth[step + 1][1][i]
        truth_heading = math.atan2(e1 - e0, n1 - n0)
        east, north = velocity_from_course(report.course, report.speed)
        converted = LocalFrame(report.lat, report.lon).velocity_in(scenario.frame, east, north)
        local_errors.append(math.remainder(math.atan2(*converted) - truth_heading, math.tau))
        raw_errors.append(math.remainder(math.atan2(east, north) - truth_heading, math.tau))
    mean_local = sum(local_errors) / len(local_errors)
    mean_raw = sum(raw_errors) / len(raw_errors)
    assert abs(math.degrees(mean_local)) < abs(math.degrees(mean_raw))
    assert abs(math.degrees(mean_raw) - math.degrees(mean_local)) > 0.05  # the convergence it corrects

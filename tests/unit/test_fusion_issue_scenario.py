"""The second bench scenario (issue 19's properties), and the scores kept per domain."""

import numpy as np

from rallypoint.fusion.evaluate import EngineTracker, evaluate
from rallypoint.fusion.metrics import Scorer
from rallypoint.fusion.report import Domain
from rallypoint.fusion.simulate_issue import build_issue_scenario


def test_the_issue_scenario_has_the_issues_properties() -> None:
    scenario = build_issue_scenario(duration_s=60.0)
    domains = [o.domain for o in scenario.objects]
    assert (domains.count(Domain.AIR), domains.count(Domain.SEA), domains.count(Domain.GROUND)) == (
        25,
        15,
        13,
    )
    identities = {i for o in scenario.objects for i in o.identities}
    assert any(i.startswith("adsb:") for i in identities)  # TIS-B
    assert any(len([i for i in o.identities if i.startswith("mmsi:")]) == 2 for o in scenario.objects)
    assert sum(1 for target in scenario.aliases.values() if target.startswith("uid:BOAT-")) == 2
    reports = scenario.reports
    assert {r.source for r in reports if r.kind == "adsb"} == {"adsb-a", "adsb-b", "adsb-c"}
    assert any(r.climb and abs(r.climb) >= 8.0 for r in reports)
    # out of order: a report arrives after a newer one of the same identity
    newest: dict[str, int] = {}
    late = 0
    for r in reports:
        assert r.identity is not None
        late += r.time_ms < newest.get(r.identity, 0)
        newest[r.identity] = max(newest.get(r.identity, 0), r.time_ms)
    assert late > 100
    # the same AIS broadcast heard by both shore stations
    ais = [(r.identity, r.time_ms) for r in reports if r.kind == "ais"]
    assert len(ais) - len(set(ais)) > 50
    assert build_issue_scenario(duration_s=60.0).reports == reports  # seeded


def test_the_engine_scores_per_domain_on_it() -> None:
    scenario = build_issue_scenario(duration_s=60.0)
    result = evaluate(scenario, EngineTracker(scenario))
    assert set(result.by_domain) == {Domain.AIR, Domain.SEA, Domain.GROUND}
    assert result.duplicate_tracks == 0
    assert result.id_switches == 0
    for score in result.by_domain.values():
        assert score.mean_ospa < 25.0
        assert score.duplicate_tracks == 0


def test_missed_objects_and_breaks_are_counted() -> None:
    scorer = Scorer(100.0)
    truth = np.array([[0.0, 0.0], [1000.0, 0.0]])
    scorer.add(truth, ["a", "b"], np.array([[1.0, 0.0], [1001.0, 0.0]]))
    scorer.add(truth, ["a"], np.array([[2.0, 0.0]]))  # b's object lost its track: a break
    scorer.add(truth, ["a"], np.array([[3.0, 0.0]]))  # still missed, not a second break
    scorer.add(truth, ["a", "c"], np.array([[4.0, 0.0], [1002.0, 0.0]]))
    assert (scorer.missed, scorer.breaks, scorer.id_switches) == (2, 1, 1)

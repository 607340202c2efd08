"""The bench's client view: what a TAK client's map shows of the issue scenario's aliased teams
aboard vessels (their relayed PLI, not a fused copy beside it), scored like the engine."""

from rallypoint.bench.fusion_client import ClientViewTracker
from rallypoint.fusion.evaluate import evaluate
from rallypoint.fusion.report import Domain
from rallypoint.fusion.simulate_issue import build_issue_scenario

SEED, DURATION_S = 19, 60.0


def test_aliased_teams_show_once_on_the_client_map() -> None:
    scenario = build_issue_scenario(SEED, DURATION_S)
    assert any(target.startswith("uid:BOAT-") for target in scenario.aliases.values())
    view = ClientViewTracker(scenario)
    sea = evaluate(scenario, view).by_domain[Domain.SEA]
    assert (sea.duplicate_tracks, sea.id_switches, sea.false_tracks) == (0, 0, 0)
    assert {"BOAT-4", "BOAT-5"} <= set(view.icons)  # the teams' own PLIs are the vessels' icons
    fused_boats = [uid for uid in view.icons if uid.startswith("fused-uid-BOAT-")]
    assert fused_boats == []


def test_without_the_one_icon_rule_the_map_shows_them_twice() -> None:
    scenario = build_issue_scenario(SEED, DURATION_S)
    view = ClientViewTracker(scenario)
    view.emitter.client_shown = None  # the former output: every fused track sent
    sea = evaluate(scenario, view).by_domain[Domain.SEA]
    assert sea.duplicate_tracks + sea.id_switches > 0
    assert [uid for uid in view.icons if uid.startswith("fused-uid-BOAT-")] != []

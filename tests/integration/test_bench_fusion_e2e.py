"""The end-to-end column of ``rallypoint bench fusion`` on a short seeded scenario: every report
goes out through a real source (readsb over HTTP, AIS and APRS-IS over TCP, teams as TAK
clients), a spawned ``rallypoint serve`` fuses it, and the watching client's events are what
is counted. Counts and content only: timings are what the bench reports, never judged here."""

from collections import defaultdict

from rallypoint.bench.fusion import _row
from rallypoint.bench.fusion_e2e import end_to_end_document, run_end_to_end
from rallypoint.fusion.simulate_issue import build_issue_scenario

DURATION_S = 12.0
"""Past the scorer's 10 s warm-up; every receiver has delivered by then."""


async def test_end_to_end_picture_through_real_sockets() -> None:
    scenario = build_issue_scenario(19, DURATION_S)
    result = await run_end_to_end(scenario, poll_s=0.2)

    identified = [r for r in scenario.reports if r.identity is not None]
    assert result.published == len(identified)
    pli = sum(1 for r in identified if r.kind == "cot")
    # readsb shows only each aircraft's newest fix per poll, and re-sent old ones never: fewer decoded
    assert 0 < result.decoded <= result.published - pli
    fused = [e for e in result.view_events if e.identities]
    claimed = {identity for event in fused for identity in event.identities}
    heard = {r.identity for r in identified if r.identity and r.kind in {"adsb", "ais", "aprs"}}
    # every object on the map: fused, or (a vessel with a team aboard) as the team's relayed PLI
    assert {i for i in heard if not i.startswith("adsb:") and i not in scenario.aliases} <= claimed
    relayed = {e.uid for e in result.view_events if not e.identities and e.kind.startswith("a-")}
    teams = {r.identity.removeprefix("uid:") for r in identified if r.kind == "cot" and r.identity}
    assert relayed == teams  # the watcher is not sent its own PLI
    assert not any(identity.startswith("uid:ANDROID") for identity in claimed)  # a PLI is its own icon
    latest = {e.uid: e for e in fused}
    owners: dict[str, set[str]] = defaultdict(set)
    for uid, event in latest.items():
        for identity in event.identities:
            owners[identity].add(uid)
    assert {i: u for i, u in owners.items() if i.startswith("icao:") and len(u) > 1} == {}
    assert result.latency.fused
    assert result.latency.relayed

    document = {**_row(result.evaluation), **end_to_end_document(result)}
    assert document["events_received"] == len(result.view_events) > 0
    assert set(document["by_domain"]) == {"air", "sea", "ground"}

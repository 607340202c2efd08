"""Fused tracks as CoT and JSON: types, errors from the covariance, provenance, deletion."""

import json

import pytest

from rallypoint.cot.event import UNKNOWN_DISTANCE
from rallypoint.cot.xml import detail_elements, parse_detail, parse_event, serialize_event
from rallypoint.errors import FusionError
from rallypoint.fusion.engine import FusionConfig, FusionEngine
from rallypoint.fusion.output import cot_type, deletion_event, fused_detail, track_summary, track_to_event
from rallypoint.fusion.report import Domain, Report
from rallypoint.fusion.simulate_issue import build_issue_scenario
from rallypoint.fusion.track import Track

T0 = 1_767_225_600_000


def _boat() -> Track:
    engine = FusionEngine(FusionConfig(aliases={"mmsi:227006760": "uid:Rescue-3"}))
    ais = Report("ais-coast", "ais", "mmsi:227006760", T0, T0 + 800, 50.8, -1.1, None, 90.0, 5.0, 10.0, Domain.SEA,
                 "RESCUE <3>", {"shipname": "RESCUE"})  # fmt: skip
    pli = Report("tak", "cot", "uid:Rescue-3", T0 + 1000, T0 + 1200, 50.80001, -1.09995, 2.0, None, None, 5.0,
                 Domain.GROUND)  # fmt: skip
    engine.ingest(ais, T0 + 800)
    (update,) = engine.ingest(pli, T0 + 1200)
    return update.track


def test_cot_types_follow_domain_and_affiliation() -> None:
    assert cot_type(Domain.AIR) == "a-u-A"
    assert cot_type(Domain.SEA, "f") == "a-f-S"
    assert cot_type(Domain.GROUND, "h") == "a-h-G"
    with pytest.raises(FusionError):
        cot_type(Domain.AIR, "q")


def test_track_event_round_trips_and_carries_provenance() -> None:
    track = _boat()
    event = track_to_event(track, T0 + 2000, affiliation="f", stale_s=30)
    assert parse_event(serialize_event(event)) == event
    assert (event.uid, event.type, event.how) == ("fused-uid-Rescue-3", "a-f-S", "m-f")
    assert (event.time, event.stale) == (T0 + 2000, T0 + 32_000)
    assert event.point.ce == pytest.approx(track.ce, abs=0.05)
    assert event.point.ce < 5.0  # two sources fused: tighter than either alone
    assert event.point.le == pytest.approx(track.le, abs=0.05)
    assert event.callsign == "RESCUE <3>"
    assert event.detail is not None
    assert [(link.uid, link.relation, link.type) for link in event.detail.links] == [
        ("Rescue-3", "p-p", "a-f-S")
    ]
    elements = {e.tag: e for e in detail_elements(event.detail)}
    assert set(elements) == {"contact", "track", "__fusion", "link"}
    fusion = elements["__fusion"]
    assert 'identities="mmsi:227006760 uid:Rescue-3"' in fusion.xml
    assert (
        '<source name="ais-coast" kind="ais" identity="mmsi:227006760" last="2026-01-01T00:00:00.000Z"'
        in fusion.xml
    )
    assert 'sigma="10.0" count="1"' in fusion.xml
    assert 'name="tak" kind="cot" identity="uid:Rescue-3"' in fusion.xml


def test_unknown_height_is_written_as_unknown() -> None:
    engine = FusionEngine()
    (update,) = engine.ingest(
        Report("ais", "ais", "mmsi:1", T0, T0, 50.0, -1.0, None, None, None, 10.0, Domain.SEA), T0
    )
    event = track_to_event(update.track, T0, stale_s=60)
    assert (event.point.hae, event.point.le) == (UNKNOWN_DISTANCE, UNKNOWN_DISTANCE)


def test_deleted_track_becomes_a_forced_delete() -> None:
    track = _boat()
    event = deletion_event(track, T0 + 5000)
    assert parse_event(serialize_event(event)) == event
    assert event.type == "t-x-d-d"
    assert event.detail is not None
    assert event.detail.force_delete
    assert [link.uid for link in event.detail.links] == ["fused-uid-Rescue-3"]


def test_summary_is_json_with_every_source() -> None:
    summary = json.loads(json.dumps(track_summary(_boat())))
    assert summary["uid"] == "fused-uid-Rescue-3"
    assert summary["domain"] == "sea"
    assert summary["attributes"] == {"shipname": "RESCUE"}
    assert [(s["name"], s["kind"], s["count"]) for s in summary["sources"]] == [
        ("ais-coast", "ais", 1),
        ("tak", "cot", 1),
    ]
    assert summary["ce"] < 5.0


def test_the_point_is_where_the_track_is_when_the_event_is_sent() -> None:
    track = _boat()
    at_estimate = track_to_event(track, track.time_ms, stale_s=30).point
    later = track_to_event(track, track.time_ms + 10_000, stale_s=30).point
    assert (at_estimate.lat, at_estimate.lon) == pytest.approx(track.position()[:2])
    assert (later.lat, later.lon) == pytest.approx(track.position(track.time_ms + 10_000)[:2])
    assert later.lon > at_estimate.lon  # 10 s further east at 5 m/s, course 90


def test_detail_built_beside_its_text_equals_the_text_parsed() -> None:
    """The routing view of a fused ``<detail>`` is built, not scanned: it must be what a scan finds."""
    scenario = build_issue_scenario(19, 40.0)
    engine = FusionEngine(FusionConfig(aliases=scenario.aliases))
    for report in scenario.reports:
        engine.ingest(report, report.received_ms)
    tracks = [*engine.tracks(), _boat()]
    tracks[0] = tracks[0]._replace(callsign='A & "B" <c>\tline\nnext')
    assert any(detail.links for detail in (fused_detail(t, "a-f-S") for t in tracks))
    for track in tracks:
        detail = fused_detail(track, "a-f-S")
        assert detail == parse_detail(detail.xml)

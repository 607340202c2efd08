"""Second names of one object join its track by kinematics (issue 19, points 3 and 4)."""

import math

from rallypoint.cot.xml import serialize_event
from rallypoint.fusion.engine import FusionConfig, FusionEngine
from rallypoint.fusion.geo import LocalFrame
from rallypoint.fusion.output import track_summary, track_to_event
from rallypoint.fusion.report import Domain, Report
from rallypoint.fusion.track import Adoption

ORIGIN = LocalFrame(50.78, -1.10)
T0 = 1_767_225_600_000


def at(identity: str, t_s: float, east: float, north: float, **options: object) -> Report:
    """A report of ``identity`` at ``t_s`` seconds, ``east``/``north`` metres from the origin."""
    lat, lon, _ = ORIGIN.to_geodetic(east, north)
    time_ms = T0 + round(t_s * 1000)
    fields: dict[str, object] = {
        "source": "adsb-north", "kind": "adsb", "identity": identity, "time_ms": time_ms,
        "received_ms": time_ms + 300, "lat": lat, "lon": lon, "hae": None, "course": None,
        "speed": None, "sigma_m": 10.0, "domain": Domain.AIR,
    }  # fmt: skip
    fields.update(options)
    return Report(**fields)  # type: ignore[arg-type]


def flight(
    engine: FusionEngine, identity: str, seconds: range, *, north: float = 0.0, **options: object
) -> None:
    """An aircraft flying east at 120 m/s, two reports a second."""
    for step in seconds:
        t = step / 2
        engine.ingest(at(identity, t, 120.0 * t, north, course=90.0, speed=120.0, **options), T0 + step * 500)


def vessel(
    engine: FusionEngine, identity: str, seconds: range, *, north: float = 0.0, every_s: int = 5
) -> None:
    """A vessel steaming east at 5 m/s on AIS."""
    for t in seconds[::every_s]:
        report = at(
            identity, t, 5.0 * t, north, kind="ais", source="ais", domain=Domain.SEA, course=90.0, speed=5.0
        )
        engine.ingest(report, report.received_ms)


def test_a_tis_b_address_joins_the_icao_track_it_matches() -> None:
    engine = FusionEngine(FusionConfig())
    flight(engine, "icao:3c6444", range(0, 40))
    flight(engine, "adsb:3c6444", range(40, 60), source="adsb-south", sigma_m=30.0)
    (track,) = engine.tracks()
    assert track.identities == ("icao:3c6444", "adsb:3c6444")
    assert track.adoptions == (Adoption("adsb:3c6444", "secondary", T0 + 20_000, ("icao:3c6444",)),)
    assert set(track.sources) == {"adsb-north", "adsb-south"}
    assert engine.counters.identities_adopted == 1
    xml = serialize_event(track_to_event(track, T0 + 30_000, stale_s=60)).decode()
    assert '<adopted identity="adsb:3c6444" rule="secondary" time="2026-01-01T00:00:20.000Z"' in xml
    assert track_summary(track)["adoptions"] == [
        {"identity": "adsb:3c6444", "rule": "secondary", "time": "2026-01-01T00:00:20.000Z",
         "joined": ["icao:3c6444"]}
    ]  # fmt: skip


def test_a_tis_b_report_between_two_aircraft_of_a_formation_joins_neither() -> None:
    engine = FusionEngine(FusionConfig())
    for step in range(40):
        flight(engine, "icao:aaaaaa", range(step, step + 1))
        flight(engine, "icao:bbbbbb", range(step, step + 1), north=150.0)
    flight(engine, "adsb:cccccc", range(40, 41), north=75.0, sigma_m=60.0)
    identities = sorted(t.identities for t in engine.tracks())
    assert identities == [("adsb:cccccc",), ("icao:aaaaaa",), ("icao:bbbbbb",)]
    assert engine.counters.identities_adopted == 0
    assert all(not t.adoptions for t in engine.tracks())


def test_a_second_icao_address_never_joins_an_icao_track() -> None:
    engine = FusionEngine(FusionConfig())
    flight(engine, "icao:aaaaaa", range(0, 40))
    flight(engine, "icao:bbbbbb", range(40, 44))
    assert sorted(t.identities for t in engine.tracks()) == [("icao:aaaaaa",), ("icao:bbbbbb",)]


def test_an_mmsi_change_continues_the_track() -> None:
    engine = FusionEngine(FusionConfig())
    vessel(engine, "mmsi:227006760", range(0, 120))
    vessel(engine, "mmsi:227006761", range(130, 200))
    (track,) = engine.tracks()
    assert track.uid == "fused-mmsi-227006760"
    assert track.identities == ("mmsi:227006760", "mmsi:227006761")
    assert [(a.identity, a.rule) for a in track.adoptions] == [("mmsi:227006761", "handover")]
    lat, lon, _ = track.position()
    east, north, _ = ORIGIN.to_enu(lat, lon)
    assert math.hypot(east - 5.0 * 195, north) < 15.0


def test_a_new_mmsi_beside_a_vessel_still_reporting_is_another_vessel() -> None:
    engine = FusionEngine(FusionConfig())
    vessel(engine, "mmsi:1", range(0, 120))
    vessel(engine, "mmsi:2", range(117, 160), north=5.0)  # 2 s after mmsi:1's last report
    assert sorted(t.identities for t in engine.tracks()) == [("mmsi:1",), ("mmsi:2",)]


def test_a_new_mmsi_at_two_moored_vessels_40_m_apart_joins_neither() -> None:
    engine = FusionEngine(FusionConfig())
    for t in range(0, 600, 180):
        for identity, north in (("mmsi:1", 0.0), ("mmsi:2", 40.0)):
            report = at(
                identity, t, 0.0, north, kind="ais", source="ais", domain=Domain.SEA, course=0.0, speed=0.0
            )
            engine.ingest(report, report.received_ms)
    report = at("mmsi:3", 560, 0.0, 20.0, kind="ais", source="ais", domain=Domain.SEA, course=0.0, speed=0.0)
    engine.ingest(report, report.received_ms)
    assert sorted(t.identities for t in engine.tracks()) == [("mmsi:1",), ("mmsi:2",), ("mmsi:3",)]


def test_the_callsign_is_stable_across_sources() -> None:
    """A team's own callsign beats its vessel's AIS name, and equal ranks never take turns."""
    engine = FusionEngine(
        FusionConfig(aliases={"mmsi:227006760": "uid:Rescue-3", "aprs:RSC3": "uid:Rescue-3"})
    )
    callsigns = []
    for t in range(0, 120, 5):
        pli = at(
            "uid:Rescue-3",
            t,
            5.0 * t,
            0.0,
            kind="cot",
            source="pli",
            domain=Domain.GROUND,
            callsign="RESCUE 3",
        )
        ais = at("mmsi:227006760", t + 1, 5.0 * (t + 1), 0.0, kind="ais", source="ais", domain=Domain.SEA,
                 callsign="SNSM LE HAVRE")  # fmt: skip
        for report in (ais, pli) if t % 10 == 0 else (pli, ais):
            engine.ingest(report, report.received_ms)
            (track,) = engine.tracks()
            callsigns.append(track.callsign)
    assert callsigns[0] == "SNSM LE HAVRE"  # the only one heard yet
    assert set(callsigns[1:]) == {"RESCUE 3"}  # from the team's own PLI on, never flips back

    engine = FusionEngine(FusionConfig(aliases={"aprs:SNSM-9": "mmsi:227006760"}))
    shown = []
    for t in range(0, 60, 5):
        for identity, name in (("mmsi:227006760", "SNSM LE HAVRE"), ("aprs:SNSM-9", "SNSM-9")):
            report = at(identity, t + (identity < "b"), 5.0 * t, 0.0, kind="ais", source=identity, domain=Domain.SEA,
                        callsign=name)  # fmt: skip
            engine.ingest(report, report.received_ms)
            shown.append(engine.tracks()[0].callsign)
    assert set(shown[1:]) == {shown[0]}  # two primary identities: the first callsign stays


def test_a_flight_number_change_is_shown() -> None:
    engine = FusionEngine(FusionConfig())
    flight(engine, "icao:3c6444", range(0, 10), callsign="DLH4AB")
    flight(engine, "icao:3c6444", range(10, 20), callsign="DLH4AC")
    assert engine.tracks()[0].callsign == "DLH4AC"

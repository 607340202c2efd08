"""Extrapolation along a turn: a turning aircraft's display position must not trail (point 2)."""

import math
import random

import pytest

from rallypoint.fusion.engine import FusionConfig, FusionEngine
from rallypoint.fusion.geo import LocalFrame
from rallypoint.fusion.report import Domain, Report
from rallypoint.fusion.track import Track

ORIGIN = LocalFrame(50.78, -1.10)
T0 = 1_767_225_600_000
RATE = math.radians(3.0)
"""A rate-one turn, rad/s."""
SPEED = 150.0


def truth(t: float) -> tuple[float, float, float]:
    """East, north and heading (rad from north, clockwise) of an aircraft turning right at 3°/s."""
    heading = RATE * t
    radius = SPEED / RATE
    return radius * (1.0 - math.cos(heading)), radius * math.sin(heading), heading


def turning_track(seconds: int = 60, seed: int = 3) -> Track:
    rng = random.Random(seed)
    engine = FusionEngine(FusionConfig())
    for step in range(seconds * 2):
        t = step / 2
        east, north, heading = truth(t)
        lat, lon, _ = ORIGIN.to_geodetic(east + rng.gauss(0, 10), north + rng.gauss(0, 10))
        time_ms = T0 + round(t * 1000)
        course = math.degrees(heading) % 360 + rng.gauss(0, 0.5)
        engine.ingest(
            Report("adsb", "adsb", "icao:3c6444", time_ms, time_ms + 300, lat, lon, None, course,
                   SPEED + rng.gauss(0, 0.5), 10.0, Domain.AIR),
            time_ms + 300,
        )  # fmt: skip
    (track,) = engine.tracks()
    return track


def test_the_turn_rate_is_estimated() -> None:
    track = turning_track()
    assert track.turn_rate == pytest.approx(-RATE, abs=math.radians(0.5))  # right turn: clockwise


def test_extrapolation_follows_the_turn() -> None:
    track = turning_track()
    t_end = (track.time_ms - T0) / 1000
    for ahead in (1.0, 2.5, 5.0):
        lat, lon, _ = track.position(track.time_ms + round(ahead * 1000))
        east, north, _ = ORIGIN.to_enu(lat, lon)
        true_east, true_north, _ = truth(t_end + ahead)
        straight = track._replace(turn_rate=0.0)
        s_lat, s_lon, _ = straight.position(track.time_ms + round(ahead * 1000))
        s_east, s_north, _ = ORIGIN.to_enu(s_lat, s_lon)
        along_turn = math.hypot(east - true_east, north - true_north)
        assert along_turn < 15.0
        assert along_turn < math.hypot(s_east - true_east, s_north - true_north)


def test_a_long_silence_is_extrapolated_straight_after_the_arc() -> None:
    track = turning_track()._replace(turn_rate=RATE)
    a = track.position(track.time_ms + 20_000)
    b = track.position(track.time_ms + 30_000)
    c = track.position(track.time_ms + 40_000)
    steps = [ORIGIN.to_enu(p[0], p[1])[:2] for p in (a, b, c)]
    first = (steps[1][0] - steps[0][0], steps[1][1] - steps[0][1])
    second = (steps[2][0] - steps[1][0], steps[2][1] - steps[1][1])
    assert first == pytest.approx(second, abs=0.5)  # straight on: equal steps


def test_sea_tracks_extrapolate_straight() -> None:
    engine = FusionEngine(FusionConfig())
    for t in range(0, 300, 10):
        east, north, heading = truth(t / 10)
        lat, lon, _ = ORIGIN.to_geodetic(east / 15, north / 15)
        report = Report("ais", "ais", "mmsi:1", T0 + t * 1000, T0 + t * 1000, lat, lon, None,
                        math.degrees(heading) % 360, 10.0, 10.0, Domain.SEA)  # fmt: skip
        engine.ingest(report, report.received_ms)
    assert engine.tracks()[0].turn_rate == 0.0

"""Height and vertical rate: a climbing aircraft's height must not trail (issue 19, point 1)."""

import random
import statistics

import pytest

from rallypoint.fusion.engine import FusionConfig, FusionEngine
from rallypoint.fusion.geo import LocalFrame
from rallypoint.fusion.kinematics import ConstantVelocity, KalmanUpdater, Measurement, State
from rallypoint.fusion.report import Domain, Report

ORIGIN = LocalFrame(50.78, -1.10)
T0 = 1_767_225_600_000
CLIMB = 12.0
"""m/s: the 8-15 m/s climbs where a random-walk height trailed by 30 m."""


def climb_reports(*, with_rate: bool, seed: int = 5) -> list[tuple[Report, float]]:
    """Two minutes of ADS-B at 2 Hz: level for 30 s, then a 12 m/s climb (height sigma 7 m)."""
    rng = random.Random(seed)
    out = []
    for step in range(240):
        t = step * 0.5
        true_up = 3000.0 + CLIMB * max(0.0, t - 30.0)
        rate = CLIMB if t >= 30.0 else 0.0
        lat, lon, _ = ORIGIN.to_geodetic(120.0 * t + rng.gauss(0, 10), rng.gauss(0, 10))
        time_ms = T0 + round(t * 1000)
        out.append((
            Report(
                "adsb-north", "adsb", "icao:3c6444", time_ms, time_ms + 300, lat, lon,
                true_up + rng.gauss(0.0, 7.0), 90.0, 120.0, 10.0, Domain.AIR,
                climb=rate + rng.gauss(0.0, 0.3) if with_rate else None,
            ),
            true_up,
        ))  # fmt: skip
    return out


def height_errors(reports: list[tuple[Report, float]]) -> list[float]:
    engine = FusionEngine(FusionConfig())
    errors = []
    for report, true_up in reports:
        engine.ingest(report, report.received_ms)
        (track,) = engine.tracks()
        _, _, up = track.position()
        assert up is not None
        if report.time_ms - T0 >= 45_000:  # 15 s into the climb
            errors.append(abs(up - true_up))
    return errors


def test_a_reported_vertical_rate_keeps_the_height_on_a_climb() -> None:
    errors = height_errors(climb_reports(with_rate=True))
    assert statistics.mean(errors) < 2.0
    (track,) = _engine_after(climb_reports(with_rate=True)).tracks()
    assert track.state.v_up == pytest.approx(CLIMB, abs=0.5)


def test_without_a_rate_it_is_learnt_from_the_heights() -> None:
    errors = height_errors(climb_reports(with_rate=False))
    assert statistics.mean(errors) < 4.0
    (track,) = _engine_after(climb_reports(with_rate=False)).tracks()
    assert track.state.v_up == pytest.approx(CLIMB, abs=2.0)


def test_extrapolated_height_follows_the_climb() -> None:
    engine = _engine_after(climb_reports(with_rate=True))
    (track,) = engine.tracks()
    _, _, now_up = track.position()
    _, _, later_up = track.position(track.time_ms + 10_000)
    assert now_up is not None
    assert later_up is not None
    assert later_up - now_up == pytest.approx(10 * CLIMB, abs=5.0)


def test_height_and_rate_update_in_closed_form() -> None:
    """One update against the 2x2 Kalman update by hand: gains from P and R."""
    state = State(0, 0.0, 0.0, 0.0, 0.0, 100.0, 0.0, 10.0, 1000.0, 100.0, 0.0, 0.0, 25.0)
    updated = KalmanUpdater().update(
        state, Measurement(0, 0.0, 0.0, 100.0, up=1010.0, r_up=100.0, climb=5.0, r_climb=25.0)
    )
    assert (updated.up, updated.p_up) == pytest.approx((1005.0, 50.0))
    assert (updated.v_up, updated.p_vup, updated.p_upc) == pytest.approx((2.5, 12.5, 0.0))
    predicted = ConstantVelocity(1.0, 2.0).predict(updated, 2000)
    assert predicted.up == pytest.approx(1005.0 + 2 * 2.5)
    assert predicted.p_up == pytest.approx(50.0 + 4 * 12.5 + 2.0 * 8 / 3)


def _engine_after(reports: list[tuple[Report, float]]) -> FusionEngine:
    engine = FusionEngine(FusionConfig())
    for report, _ in reports:
        engine.ingest(report, report.received_ms)
    return engine

"""The IMM of straight flight and coordinated turns: exact modes, better turns, no worse straight legs."""

import math
import random
from dataclasses import replace
from types import MappingProxyType

import numpy as np
import pytest

from rallypoint.fusion.engine import FusionConfig, FusionEngine
from rallypoint.fusion.geo import LocalFrame
from rallypoint.fusion.imm import InteractingMultipleModel, propagate, update_mode
from rallypoint.fusion.kinematics import Measurement, State
from rallypoint.fusion.mixture import ModeEstimate
from rallypoint.fusion.report import Domain, Report
from rallypoint.fusion.tuning import DEFAULT_MODELS, Motion

ORIGIN = LocalFrame(50.78, -1.10)
T0 = 1_767_225_600_000
SPEED = 150.0
RATE = math.radians(3.0)
"""The turn of the tests: a rate-one turn, rad/s (clockwise in the scenarios below)."""
STRAIGHT, LEFT, RIGHT = range(3)


def config(motion: Motion) -> FusionConfig:
    air = replace(DEFAULT_MODELS[Domain.AIR], motion=motion)
    return FusionConfig(models=MappingProxyType({**DEFAULT_MODELS, Domain.AIR: air}))


def flight(t: float, turn_from: float, turn_to: float) -> tuple[float, float, float]:
    """East, north and heading (rad, clockwise from north) at ``t``: north, a right turn, straight on."""
    radius = SPEED / RATE
    if t < turn_from:
        return 0.0, SPEED * t, 0.0
    heading = RATE * (min(t, turn_to) - turn_from)
    east, north = radius * (1.0 - math.cos(heading)), SPEED * turn_from + radius * math.sin(heading)
    rest = max(0.0, t - turn_to)
    return east + rest * SPEED * math.sin(heading), north + rest * SPEED * math.cos(heading), heading


def report(t: float, rng: random.Random, truth: tuple[float, float, float], velocity: bool) -> Report:
    east, north, heading = truth
    lat, lon, _ = ORIGIN.to_geodetic(east + rng.gauss(0, 10), north + rng.gauss(0, 10))
    time_ms = T0 + round(t * 1000)
    course = (math.degrees(heading) + rng.gauss(0, 0.3)) % 360 if velocity else None
    speed = SPEED + rng.gauss(0, 0.5) if velocity else None
    return Report("mlat", "adsb", "icao:3c6444", time_ms, time_ms + 300, lat, lon, None, course, speed, 10.0,
                  Domain.AIR)  # fmt: skip


def errors(
    motion: Motion, seed: int, turn_from: float, turn_to: float, velocity: bool = False, seconds: int = 90
) -> tuple[list[float], list[tuple[float, ...]]]:
    """Filtered position errors after a 10 s warm-up (2 Hz, sigma 10 m), and the mode probabilities."""
    rng = random.Random(seed)
    engine = FusionEngine(config(motion))
    found, probabilities = [], []
    for step in range(seconds * 2):
        t = step / 2
        truth = flight(t, turn_from, turn_to)
        engine.ingest(report(t, rng, truth, velocity), T0 + round(t * 1000) + 300)
        tracks = engine.tracks()
        if t < 10 or not tracks:
            continue
        lat, lon, _ = tracks[0].position()
        east, north, _ = ORIGIN.to_enu(lat, lon)
        found.append(math.hypot(east - truth[0], north - truth[1]))
        mixture = tracks[0].state.mixture
        probabilities.append(mixture.probabilities if mixture else ())
    return found, probabilities


def mean_error(motion: Motion, turn_from: float, turn_to: float, velocity: bool = False) -> float:
    runs = [errors(motion, seed, turn_from, turn_to, velocity)[0] for seed in range(4)]
    return float(np.mean([e for run in runs for e in run]))


def test_in_a_turn_the_imm_is_closer_than_constant_velocity() -> None:
    # positions only (multilateration, radar, TIS-B): a 3°/s turn for the whole run
    imm, cv = mean_error(Motion.IMM, 0.0, 90.0), mean_error(Motion.CV, 0.0, 90.0)
    assert imm < 0.6 * cv


def test_a_turn_between_straight_legs_is_followed_closer() -> None:
    assert mean_error(Motion.IMM, 30.0, 60.0) < 0.8 * mean_error(Motion.CV, 30.0, 60.0)


def test_with_reported_velocity_the_imm_is_no_worse_in_a_turn() -> None:
    imm, cv = mean_error(Motion.IMM, 0.0, 90.0, True), mean_error(Motion.CV, 0.0, 90.0, True)
    assert imm < cv * 1.05


@pytest.mark.parametrize("velocity", [False, True])
def test_straight_flight_is_no_worse_than_constant_velocity(velocity: bool) -> None:
    imm, cv = mean_error(Motion.IMM, 1e9, 1e9, velocity), mean_error(Motion.CV, 1e9, 1e9, velocity)
    assert imm < cv * 1.05 + 0.1


def test_the_mode_probability_moves_to_the_turn_and_back() -> None:
    _, probabilities = errors(Motion.IMM, 7, 40.0, 70.0)  # indices: one per report after t = 10 s
    at = {t: probabilities[round((t - 10.0) * 2)] for t in (35.0, 55.0, 69.5, 85.0)}
    assert at[35.0][STRAIGHT] > 0.7  # straight leg
    assert at[55.0][RIGHT] > 0.7  # clockwise: the right-turn mode
    assert at[69.5][RIGHT] > 0.7
    assert at[55.0][LEFT] < 0.05
    assert at[85.0][STRAIGHT] > 0.7  # back on a straight leg


def real_covariance(mode: ModeEstimate) -> np.ndarray:
    """The 4x4 covariance of (east, north, v_east, v_north) that a circular mode stands for."""
    c = mode.p_cross
    cross = np.array([[c.real, -c.imag], [c.imag, c.real]])
    eye = np.eye(2)
    return np.block([[mode.p_pos * eye, cross], [cross.T, mode.p_vel * eye]])


def test_a_mode_is_exactly_the_matrix_kalman_filter() -> None:
    mode = ModeEstimate(complex(30.0, -20.0), complex(100.0, 60.0), 80.0, complex(6.0, 1.5), 3.0)
    dt, rate, q = 0.7, RATE, 2.0
    moved = propagate(mode, dt, rate, q)
    cos_, sin_ = math.cos(rate * dt), math.sin(rate * dt)
    along = (complex(cos_, sin_) - 1) / (1j * rate)
    f = np.eye(4)
    f[:2, 2:] = [[along.real, -along.imag], [along.imag, along.real]]
    f[2:, 2:] = [[cos_, -sin_], [sin_, cos_]]
    qm = q * np.block(
        [[dt**3 / 3 * np.eye(2), dt**2 / 2 * np.eye(2)], [dt**2 / 2 * np.eye(2), dt * np.eye(2)]]
    )
    x = f @ np.array([30.0, -20.0, 100.0, 60.0])
    p = f @ real_covariance(mode) @ f.T + qm
    np.testing.assert_allclose(real_covariance(moved), p, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose([moved.position.real, moved.position.imag], x[:2], rtol=1e-12)
    # update with position and velocity, noise 100 m² and 2.25 m²/s²
    z = np.array([110.0, 15.0, 98.0, 64.0])
    updated, log_likelihood = update_mode(moved, complex(*z[:2]), 100.0, complex(*z[2:]), 2.25)
    s = p + np.diag([100.0, 100.0, 2.25, 2.25])
    gain = p @ np.linalg.inv(s)
    innovation = z - x
    np.testing.assert_allclose(real_covariance(updated), p - gain @ p, rtol=1e-9, atol=1e-9)
    expected = x + gain @ innovation
    np.testing.assert_allclose(
        [updated.position.real, updated.position.imag, updated.velocity.real, updated.velocity.imag],
        expected,
        rtol=1e-12,
    )
    # the log-likelihood up to the constant every mode shares: -(quadratic form + log det)/2
    quad = innovation @ np.linalg.solve(s, innovation)
    assert log_likelihood == pytest.approx(-0.5 * (quad + math.log(np.linalg.det(s))), rel=1e-9)


def test_the_fused_step_equals_predict_then_update() -> None:
    imm = InteractingMultipleModel(q_straight=0.5, q_turn=2.0, q_up=2.0, turn_rate=RATE, straight_s=30.0,
                                   turn_s=15.0)  # fmt: skip
    state = State(0, 0.0, 0.0, 100.0, 50.0, 100.0, 5.0, 4.0, 1000.0, 100.0, 0.0, 0.0, 1.0)
    rng = random.Random(5)
    for step in range(1, 40):
        time_ms = step * 500
        east, north = 100.0 * time_ms / 1000 + rng.gauss(0, 10), 50.0 * time_ms / 1000 + rng.gauss(0, 10)
        velocity = (100.0 + rng.gauss(0, 1), 50.0 + rng.gauss(0, 1)) if step % 3 else None
        measurement = Measurement(time_ms, east, north, 100.0, velocity, 2.25, 1000.0 + step, 225.0, 1.0, 1.0)
        generic = imm.update(imm.predict(state, time_ms), measurement)
        state = imm.predict_update(state, time_ms, east, north, 100.0, velocity, 2.25, 1000.0 + step, 225.0, 1.0,
                                   1.0)  # fmt: skip
        assert state.mixture is not None
        assert generic.mixture is not None
        np.testing.assert_allclose(state[1:13], generic[1:13], rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(state.mixture.probabilities, generic.mixture.probabilities, rtol=1e-9)
        assert sum(state.mixture.probabilities) == pytest.approx(1.0)


def test_late_reports_are_refiltered_with_the_mixture_they_met() -> None:
    rng = random.Random(11)
    reports = [report(step / 2, rng, flight(step / 2, 20.0, 50.0), False) for step in range(140)]
    in_order, shuffled = FusionEngine(config(Motion.IMM)), FusionEngine(config(Motion.IMM))
    for r in reports:
        in_order.ingest(r, r.received_ms)
    late = list(reports)
    for index in range(0, len(late) - 4, 5):  # every fifth report arrives after the next three
        late[index], late[index + 3] = late[index + 3], late[index]
    for r in late:
        shuffled.ingest(r, r.time_ms + 5000)
    (a,), (b,) = in_order.tracks(), shuffled.tracks()
    assert shuffled.counters.late_reprocessed > 0
    east, north, _ = ORIGIN.to_enu(*a.position()[:2])
    assert ORIGIN.to_enu(*b.position()[:2])[:2] == pytest.approx((east, north), abs=1e-3)  # a millimetre
    assert a.state.mixture is not None
    assert b.state.mixture is not None
    assert a.state.mixture.probabilities == pytest.approx(b.state.mixture.probabilities, abs=1e-6)


def test_re_anchoring_moves_every_mode_with_the_track() -> None:
    rng = random.Random(2)
    engine = FusionEngine(config(Motion.IMM))
    for step in range(200):  # 100 s at 150 m/s: 15 km, past the 10 km re-anchoring distance
        t = step / 2
        engine.ingest(report(t, rng, flight(t, 1e9, 1e9), False), T0 + round(t * 1000) + 300)
    (track,) = engine.tracks()
    assert track.frame.lat != pytest.approx(ORIGIN.lat, abs=1e-3)  # re-anchored
    mixture = track.state.mixture
    assert mixture is not None
    for mode in mixture.modes:
        assert abs(mode.position - complex(track.state.east, track.state.north)) < 20.0
    lat, lon, _ = track.position()
    east, north, _ = ORIGIN.to_enu(lat, lon)
    assert math.hypot(east - 0.0, north - SPEED * 99.5) < 15.0


def test_reports_without_identity_stay_on_one_turning_track() -> None:
    """Gating against an IMM track reads its combined state: a radar's plots of a turn make one track."""
    rng = random.Random(4)
    engine = FusionEngine(config(Motion.IMM))
    for step in range(120):
        t = step / 2
        plot = report(t, rng, flight(t, 10.0, 50.0), False)._replace(identity=None, source="radar")
        engine.ingest_many([plot], plot.received_ms)
    (track,) = engine.tracks()
    assert track.state.mixture is not None
    assert engine.counters.tracks_created == 1

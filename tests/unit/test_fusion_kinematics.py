"""The closed-form filter equals the textbook 4x4 Kalman filter."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rallypoint.fusion.kinematics import (
    ConstantVelocity,
    KalmanUpdater,
    Measurement,
    State,
    initial_state,
    noise_density,
)

positive = st.floats(0.5, 1e4)


def _matrix_predict(state: State, dt: float, q: float) -> tuple[np.ndarray, np.ndarray]:
    f = np.eye(4)
    f[0, 2] = f[1, 3] = dt
    block = q * np.array([[abs(dt) ** 3 / 3, dt * abs(dt) / 2], [dt * abs(dt) / 2, abs(dt)]])
    noise = np.zeros((4, 4))
    noise[np.ix_([0, 2], [0, 2])] = block
    noise[np.ix_([1, 3], [1, 3])] = block
    x = np.array([state.east, state.north, state.v_east, state.v_north])
    return f @ x, f @ state.covariance() @ f.T + noise


def _matrix_update(x: np.ndarray, p: np.ndarray, m: Measurement) -> tuple[np.ndarray, np.ndarray]:
    if m.velocity is None:
        h = np.eye(4)[:2]
        z = np.array([m.east, m.north])
        r = np.eye(2) * m.r_pos
    else:
        h = np.eye(4)
        z = np.array([m.east, m.north, *m.velocity])
        r = np.diag([m.r_pos, m.r_pos, m.r_vel, m.r_vel])
    s = h @ p @ h.T + r
    k = p @ h.T @ np.linalg.inv(s)
    return x + k @ (z - h @ x), (np.eye(4) - k @ h) @ p


def _as_vector(state: State) -> np.ndarray:
    return np.array([state.east, state.north, state.v_east, state.v_north])


@given(
    st.floats(-1e4, 1e4),
    st.floats(-300, 300),
    positive,
    st.floats(-0.9, 0.9),
    positive,
    st.integers(-5000, 20_000),
    st.floats(0.01, 10.0),
    positive,
    st.booleans(),
)
def test_closed_form_matches_matrix_filter(
    position: float,
    velocity: float,
    p_pos: float,
    correlation: float,
    p_vel: float,
    dt_ms: int,
    q: float,
    r_pos: float,
    with_velocity: bool,
) -> None:
    cross = correlation * (p_pos * p_vel) ** 0.5
    state = State(1_000_000, position, -position, velocity, velocity / 2, p_pos, cross, p_vel)
    measurement = Measurement(
        1_000_000 + dt_ms,
        position + 30.0,
        -position - 20.0,
        r_pos,
        (velocity + 1.0, 0.0) if with_velocity else None,
        2.0,
    )
    predicted = ConstantVelocity(q, 1.0).predict(state, measurement.time_ms)
    x, p = _matrix_predict(state, dt_ms / 1000.0, q)
    np.testing.assert_allclose(_as_vector(predicted), x, rtol=1e-9, atol=1e-6)
    np.testing.assert_allclose(predicted.covariance(), p, rtol=1e-9, atol=1e-6)
    updated = KalmanUpdater().update(predicted, measurement)
    x, p = _matrix_update(x, p, measurement)
    np.testing.assert_allclose(_as_vector(updated), x, rtol=1e-6, atol=1e-5)
    np.testing.assert_allclose(updated.covariance(), p, rtol=1e-6, atol=1e-5 * max(1.0, p_vel))
    assert updated.p_pos <= predicted.p_pos + 1e-9
    assert np.all(np.linalg.eigvalsh(updated.covariance()) > -1e-6)


def test_prediction_to_the_same_instant_is_the_state_itself() -> None:
    state = State(5, 1.0, 2.0, 3.0, 4.0, 10.0, 1.0, 2.0)
    assert ConstantVelocity(1.0, 1.0).predict(state, 5) is state


def test_height_is_filtered_once_reported() -> None:
    first = initial_state(Measurement(0, 0.0, 0.0, 100.0, up=1000.0, r_up=100.0), v_var=100.0)
    assert (first.up, first.p_up, first.v_east, first.p_vel) == (1000.0, 100.0, 0.0, 100.0)
    second = KalmanUpdater().update(first, Measurement(0, 0.0, 0.0, 100.0, up=1020.0, r_up=100.0))
    assert second.up == pytest.approx(1010.0)
    assert second.p_up == pytest.approx(50.0)
    third = KalmanUpdater().update(second, Measurement(0, 0.0, 0.0, 100.0))
    assert (third.up, third.p_up) == (second.up, second.p_up)


@given(
    st.floats(-1e4, 1e4),
    st.floats(-300, 300),
    positive,
    st.floats(-0.9, 0.9),
    positive,
    st.integers(-5000, 20_000),
    positive,
    st.booleans(),
    st.sampled_from([None, 900.0]),
    st.sampled_from([None, 1000.0]),
    st.sampled_from([None, 8.0]),
)
def test_fused_predict_update_is_bit_identical_to_the_two_steps(
    position: float,
    velocity: float,
    p_pos: float,
    correlation: float,
    p_vel: float,
    dt_ms: int,
    r_pos: float,
    with_velocity: bool,
    prior_up: float | None,
    measured_up: float | None,
    climb: float | None,
) -> None:
    """The engine's hot path may use either: they must agree to the last bit, not approximately."""
    cross = correlation * (p_pos * p_vel) ** 0.5
    state = State(
        1_000_000,
        position,
        -position,
        velocity,
        velocity / 2,
        p_pos,
        cross,
        p_vel,
        prior_up,
        30.0,
        3.0,
        1.0,
        4.0,
    )
    measurement = Measurement(
        1_000_000 + dt_ms,
        position + 30.0,
        -position - 20.0,
        r_pos,
        (velocity + 1.0, -2.0) if with_velocity else None,
        2.25,
        measured_up,
        225.0,
        climb,
        1.0,
    )
    model = ConstantVelocity(3.0, 2.0, 0.01)
    two_steps = KalmanUpdater().update(model.predict(state, measurement.time_ms), measurement)
    fused = model.predict_update(state, *measurement)
    assert type(fused) is State
    assert fused == two_steps


def test_turn_noise_grows_the_prediction_with_speed() -> None:
    """``q_turn``: a car's prediction widens far more than a walker's over the same gap."""
    model = ConstantVelocity(0.1, 1.0, 0.01)
    walker = State(0, 0.0, 0.0, 1.5, 0.0, 25.0, 0.0, 1.0)
    car = walker._replace(v_east=15.0)
    assert noise_density(0.1, 0.01, 1.5, 0.0) == 0.1 + 0.01 * 2.25
    assert noise_density(0.1, 0.01, 15.0, 0.0) == 0.1 + 0.01 * 225.0
    assert model.predict(car, 10_000).p_pos > 5 * (model.predict(walker, 10_000).p_pos - 125.0)
    assert ConstantVelocity(0.1, 1.0).predict(car, 10_000) == ConstantVelocity(0.1, 1.0, 0.0).predict(
        car, 10_000
    )

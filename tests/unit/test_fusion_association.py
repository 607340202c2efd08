"""Aliases, gating and global nearest neighbour assignment."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rallypoint.errors import FusionError
from rallypoint.fusion.association import (
    Candidates,
    GlobalNearestNeighbour,
    IdentityResolver,
)
from rallypoint.fusion.geo import LocalFrame
from rallypoint.fusion.kinematics import State

FRAME = LocalFrame(50.0, -1.0)


def test_aliases_resolve_through_chains() -> None:
    resolver = IdentityResolver({"aprs:N0CALL-9": "uid:ANDROID-1", "uid:ANDROID-1": "uid:Team-1"})
    assert resolver.canonical("aprs:N0CALL-9") == "uid:Team-1"
    assert resolver.canonical("icao:abc") == "icao:abc"
    resolver.set("uid:ANDROID-1", None)
    assert resolver.canonical("aprs:N0CALL-9") == "uid:ANDROID-1"


def test_alias_cycle_is_refused_and_the_table_kept() -> None:
    resolver = IdentityResolver({"a": "b", "b": "c"})
    with pytest.raises(FusionError, match="cycle"):
        resolver.set("c", "a")
    with pytest.raises(FusionError, match="cycle"):
        resolver.set("b", "a")
    assert resolver.aliases() == {"a": "b", "b": "c"}


def test_gnn_picks_the_least_total_distance_within_the_gate() -> None:
    distances = np.array([[1.0, 2.0], [1.5, np.inf], [np.inf, np.inf]])
    assert sorted(GlobalNearestNeighbour().associate(distances)) == [(0, 1), (1, 0)]
    assert GlobalNearestNeighbour().associate(np.full((2, 2), np.inf)) == []
    assert GlobalNearestNeighbour().associate(np.empty((0, 3))) == []


def _candidates(states: list[State]) -> Candidates:
    return Candidates(FRAME, [(s, FRAME, 1.0, 300.0) for s in states])


def test_gate_uses_prediction_to_the_report_time() -> None:
    moving = State(0, 0.0, 0.0, 100.0, 0.0, 25.0, 0.0, 1.0)
    distances = _candidates([moving]).distances(
        np.array([1000.0, 0.0]),
        np.array([0.0, 0.0]),
        np.array([25.0, 25.0]),
        np.array([10_000.0, 10_000.0]),
        13.8,
    )
    assert distances[0, 0] < 1.0  # where the track will be after 10 s
    assert distances[1, 0] == np.inf  # where it was


def test_physical_gate_refuses_impossible_jumps() -> None:
    vague = State(0, 0.0, 0.0, 0.0, 0.0, 100.0, 0.0, 200.0**2)
    distances = _candidates([vague]).distances(
        np.array([4000.0]), np.array([0.0]), np.array([100.0]), np.array([10_000.0]), 1e9
    )
    assert distances[0, 0] == np.inf  # 4 km in 10 s is faster than 300 m/s


@given(st.floats(-500, 500), st.floats(-500, 500), st.floats(1.0, 1e4), st.floats(1.0, 1e4))
def test_gating_is_symmetric(east: float, north: float, p_pos: float, r_pos: float) -> None:
    """Swapping the report and the track (and their variances) gives the same distance."""
    track = _candidates([State(0, 0.0, 0.0, 0.0, 0.0, p_pos, 0.0, 1.0)])
    there = track.distances(np.array([east]), np.array([north]), np.array([r_pos]), np.array([0.0]), 1e9)
    other = _candidates([State(0, east, north, 0.0, 0.0, r_pos, 0.0, 1.0)])
    back = other.distances(np.array([0.0]), np.array([0.0]), np.array([p_pos]), np.array([0.0]), 1e9)
    assert there[0, 0] == pytest.approx(back[0, 0], rel=1e-6, abs=1e-9)

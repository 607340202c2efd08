"""OSPA, GOSPA and the counters over time, on cases small enough to compute by hand."""

import numpy as np
import pytest

from rallypoint.fusion.metrics import Scorer, gospa, ospa


def points(*xy: tuple[float, float]) -> np.ndarray:
    return np.array(xy, dtype=np.float64).reshape(-1, 2)


def test_ospa_hand_computed() -> None:
    truth = points((0, 0), (100, 0))
    assert ospa(truth, points((3, 4), (100, 0)), cutoff=100) == pytest.approx(2.5)  # (5 + 0) / 2
    assert ospa(truth, points((3, 4)), cutoff=100) == pytest.approx(52.5)  # (5 + 100) / 2
    assert ospa(truth, points((3, 4), (100, 0), (500, 500)), cutoff=100) == pytest.approx(35.0)  # (5+0+100)/3
    assert ospa(truth, points((0, 300), (100, 300)), cutoff=100) == pytest.approx(100.0)  # capped
    assert ospa(points(), points(), cutoff=100) == 0.0
    assert ospa(truth, points(), cutoff=100) == 100.0
    assert ospa(truth, points((3, 4), (100, 0)), cutoff=100, p=2) == pytest.approx((25 / 2) ** 0.5)


def test_ospa_uses_the_best_assignment() -> None:
    truth = points((0, 0), (10, 0))
    assert ospa(truth, points((9, 0), (1, 0)), cutoff=100) == pytest.approx(1.0)


def test_gospa_hand_computed() -> None:
    truth = points((0, 0), (100, 0), (200, 0))
    result = gospa(truth, points((3, 4), (100, 6), (900, 900)), cutoff=100)
    # 5 + 6 localisation, one missed and one false at c/2 each: 11 + 50 + 50.
    assert (result.localisation, result.missed, result.false) == (pytest.approx(11.0), 1, 1)
    assert result.distance == pytest.approx(111.0)
    assert gospa(points(), points((0, 0)), cutoff=100).distance == pytest.approx(50.0)
    squared = gospa(truth[:1], points((3, 4)), cutoff=100, p=2)
    assert squared.distance == pytest.approx(5.0)


def test_scorer_counts_switches_duplicates_and_false_tracks() -> None:
    scorer = Scorer(cutoff=100)
    truth = points((0, 0), (1000, 0))
    scorer.add(truth, ["a", "b"], points((1, 0), (1001, 0)))
    scorer.add(truth, ["a", "b"], points((2, 0), (1002, 0)))
    scorer.add(truth, ["c", "b", "d"], points((3, 0), (1003, 0), (1010, 0)))  # a→c switch, d duplicates b
    scorer.add(truth, ["c", "b", "e"], points((4, 0), (1004, 0), (5000, 0)))  # e is false
    assert scorer.id_switches == 1
    assert scorer.duplicate_ids == {"d"}
    assert scorer.false_ids == {"e"}
    assert len(scorer.ospa_values) == 4
    assert scorer.mean_ospa == pytest.approx(np.mean(scorer.ospa_values))
    assert scorer.mean_gospa > 0

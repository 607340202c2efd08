"""How good is a set of tracks: OSPA, GOSPA, identity switches, duplicate, false and missed
tracks and track breaks.

OSPA (Schuhmacher, Vo & Vo, 2008) and GOSPA (Rahmathullah, García-Fernández & Svensson,
2017, with alpha = 2) compare the tracks' positions with the truth at one instant, each
distance capped at ``cutoff``: OSPA is a per-object average that punishes a missing or
extra track with the full cutoff; GOSPA is a sum that splits into localisation error,
missed objects and false tracks. Both use the optimal one-to-one assignment, which is also
what identity switches and duplicates are counted against over time.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment

FloatArray = npt.NDArray[np.float64]


def _distances(truth: FloatArray, tracks: FloatArray) -> FloatArray:
    """Euclidean distances, truths x tracks, for arrays of shape (n, 2)."""
    diff = truth[:, None, :] - tracks[None, :, :]
    result: FloatArray = np.sqrt((diff * diff).sum(axis=2))
    return result


def _assignment(distances: FloatArray, cutoff: float, p: float) -> tuple[list[tuple[int, int]], float]:
    """Optimal pairs under the capped cost and the sum of their capped costs."""
    if distances.size == 0:
        return [], 0.0
    cost = np.minimum(distances, cutoff) ** p
    rows, cols = linear_sum_assignment(cost)
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True)], float(cost[rows, cols].sum())


def ospa(truth: FloatArray, tracks: FloatArray, cutoff: float, p: float = 1.0) -> float:
    """OSPA distance between two point sets (arrays of shape (n, 2)), metres."""
    m, n = len(truth), len(tracks)
    if m == 0 and n == 0:
        return 0.0
    if m == 0 or n == 0:
        return cutoff
    _, total = _assignment(_distances(truth, tracks), cutoff, p)
    return float(((total + cutoff**p * abs(m - n)) / max(m, n)) ** (1.0 / p))


@dataclass(frozen=True, slots=True)
class Gospa:
    """GOSPA and its decomposition (each term to the power p before the root)."""

    distance: float
    localisation: float
    missed: int
    false: int


def gospa(truth: FloatArray, tracks: FloatArray, cutoff: float, p: float = 1.0) -> Gospa:
    """GOSPA with alpha = 2: a pair at ``cutoff`` or beyond counts as one miss and one false track."""
    close: list[float] = []
    if len(truth) and len(tracks):
        distances = _distances(truth, tracks)
        pairs, _ = _assignment(distances, cutoff, p)
        close = [float(distances[r, c]) for r, c in pairs if distances[r, c] < cutoff]
    localisation = sum(d**p for d in close)
    missed, false = len(truth) - len(close), len(tracks) - len(close)
    total = localisation + cutoff**p / 2.0 * (missed + false)
    return Gospa(total ** (1.0 / p), localisation, missed, false)


@dataclass(slots=True)
class Scorer:
    """Accumulates metrics over the instants of a run."""

    cutoff: float = 100.0
    p: float = 1.0
    ospa_values: list[float] = field(default_factory=list)
    gospa_values: list[float] = field(default_factory=list)
    id_switches: int = 0
    duplicate_ids: set[str] = field(default_factory=set)
    """Tracks that were, at some instant, a second track within the cutoff of an object."""
    false_ids: set[str] = field(default_factory=set)
    """Tracks that were, at some instant, farther than the cutoff from every object."""
    missed: int = 0
    """Object-instants with no track within the cutoff."""
    breaks: int = 0
    """Times an object that had a track within the cutoff had none at the next instant."""
    _assigned: dict[int, str] = field(default_factory=dict)
    _matched: set[int] = field(default_factory=set)

    def add(self, truth: FloatArray, track_ids: Sequence[str], tracks: FloatArray) -> None:
        """Score one instant: ``truth`` (objects in a fixed order) and the tracks shown then."""
        self.ospa_values.append(ospa(truth, tracks, self.cutoff, self.p))
        self.gospa_values.append(gospa(truth, tracks, self.cutoff, self.p).distance)
        if len(truth) == 0 or len(tracks) == 0:
            self.false_ids.update(track_ids)
            self._objects_matched(set(), len(truth))
            return
        distances = _distances(truth, tracks)
        pairs, _ = _assignment(distances, self.cutoff, self.p)
        matched = {c for r, c in pairs if distances[r, c] < self.cutoff}
        self._objects_matched({r for r, c in pairs if distances[r, c] < self.cutoff}, len(truth))
        for r, c in pairs:
            if distances[r, c] < self.cutoff:
                previous = self._assigned.get(r)
                if previous is not None and previous != track_ids[c]:
                    self.id_switches += 1
                self._assigned[r] = track_ids[c]
        for c, track_id in enumerate(track_ids):
            if c not in matched:
                near = bool((distances[:, c] < self.cutoff).any())
                (self.duplicate_ids if near else self.false_ids).add(track_id)

    def _objects_matched(self, objects: set[int], count: int) -> None:
        self.missed += count - len(objects)
        self.breaks += len(self._matched - objects)
        self._matched = objects

    @property
    def mean_ospa(self) -> float:
        """OSPA averaged over the instants scored."""
        return float(np.mean(self.ospa_values)) if self.ospa_values else 0.0

    @property
    def mean_gospa(self) -> float:
        """GOSPA averaged over the instants scored."""
        return float(np.mean(self.gospa_values)) if self.gospa_values else 0.0

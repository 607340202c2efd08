"""Which track does a report belong to: identities first, then kinematics.

Identity association is a dictionary lookup after resolving aliases (a user's "this AIS
vessel is team Rescue-3"). Reports without an identity are gated against every track of
their domain by squared Mahalanobis distance, and a batch of them is assigned one-to-one
by global nearest neighbour (the assignment of least total distance, found with
``scipy.optimize.linear_sum_assignment``), so two reports never claim one track.
"""

from collections.abc import Mapping, Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment

from rallypoint.errors import FusionError
from rallypoint.fusion.geo import LocalFrame
from rallypoint.fusion.kinematics import State

FloatArray = npt.NDArray[np.float64]


class IdentityResolver:
    """Maps every identity to its canonical one through the user's alias table."""

    __slots__ = ("_aliases",)

    def __init__(self, aliases: Mapping[str, str]) -> None:
        self._aliases: dict[str, str] = {}
        for identity, target in aliases.items():
            self.set(identity, target)

    def canonical(self, identity: str) -> str:
        """The identity at the end of ``identity``'s alias chain (itself when it has none).

        :meth:`set` refuses cycles, so every chain ends within as many steps as there are aliases.
        """
        aliases = self._aliases
        for _ in range(len(aliases) + 1):
            target = aliases.get(identity)
            if target is None:
                return identity
            identity = target
        raise AssertionError("unreachable: alias chains are acyclic")

    def set(self, identity: str, target: str | None) -> None:
        """Alias ``identity`` to ``target`` (``None`` removes the alias); refuses cycles."""
        if target is None:
            self._aliases.pop(identity, None)
            return
        node: str | None = target
        for _ in range(len(self._aliases) + 1):
            if node is None:
                break
            if node == identity:
                raise FusionError(f"aliasing {identity!r} to {target!r} makes a cycle")
            node = self._aliases.get(node)
        self._aliases[identity] = target

    def aliases(self) -> dict[str, str]:
        """A copy of the alias table."""
        return dict(self._aliases)


class Associator(Protocol):
    """Assigns reports to tracks given their squared distances (``inf`` outside the gate)."""

    def associate(self, distances: FloatArray) -> list[tuple[int, int]]: ...


class GlobalNearestNeighbour:
    """One-to-one assignment of least total squared Mahalanobis distance within the gate."""

    __slots__ = ()

    def associate(self, distances: FloatArray) -> list[tuple[int, int]]:
        """``(report index, track index)`` pairs; reports left out start tracks of their own."""
        if distances.size == 0:
            return []
        gated = np.isfinite(distances)
        if not gated.any():
            return []
        cost = np.where(gated, distances, _OUTSIDE_GATE)
        rows, cols = linear_sum_assignment(cost)
        return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if gated[r, c]]


_OUTSIDE_GATE = 1e12
"""Cost of a pair outside the gate: larger than any sum of gated costs, so never preferred."""


class Candidates:
    """Track estimates gathered into arrays in one common frame, for gating many reports at once."""

    __slots__ = ("cross", "east", "max_speed", "north", "p_pos", "p_vel", "q", "time_ms", "v_east", "v_north")

    def __init__(self, frame: LocalFrame, tracks: Sequence[tuple[State, LocalFrame, float, float]]) -> None:
        """Each track's state, its own frame, its process noise density and its domain's top speed."""
        rows = np.empty((len(tracks), 10), dtype=np.float64)
        for i, (state, own, q, max_speed) in enumerate(tracks):
            lat, lon, _ = own.to_geodetic(state.east, state.north)
            east, north, _ = frame.to_enu(lat, lon)
            v_east, v_north = own.velocity_in(frame, state.v_east, state.v_north)
            rows[i] = (east, north, v_east, v_north, state.p_pos, state.p_cross, state.p_vel, q, max_speed,
                       state.time_ms)  # fmt: skip
        (self.east, self.north, self.v_east, self.v_north, self.p_pos, self.cross, self.p_vel, self.q,
         self.max_speed, self.time_ms) = rows.T  # fmt: skip

    def distances(
        self, east: FloatArray, north: FloatArray, r_pos: FloatArray, time_ms: FloatArray, gate: float
    ) -> FloatArray:
        """Squared Mahalanobis distances (reports x tracks), ``inf`` where above ``gate``.

        A second, physical gate refuses a pair whose distance from the track's last position
        would need more than the domain's top speed: a young track's velocity is so uncertain
        that its statistical gate alone would reach clutter kilometres away.
        """
        dt = (time_ms[:, None] - self.time_ms[None, :]) / 1000.0
        adt = np.abs(dt)
        de = east[:, None] - (self.east + dt * self.v_east)
        dn = north[:, None] - (self.north + dt * self.v_north)
        s = self.p_pos + 2.0 * dt * self.cross + dt * dt * self.p_vel + self.q * adt**3 / 3.0 + r_pos[:, None]
        d2: FloatArray = (de * de + dn * dn) / s
        jump_e, jump_n = east[:, None] - self.east, north[:, None] - self.north
        reach = self.max_speed * adt + 4.0 * np.sqrt(self.p_pos + r_pos[:, None])
        d2[(d2 > gate) | (jump_e * jump_e + jump_n * jump_n > reach * reach)] = np.inf
        return d2

"""The second bench scenario: the properties issue 19 measured the engine on.

Built from the same parts as :mod:`rallypoint.fusion.simulate`, seeded the same way, with
what the first scenario lacks:

- 25 aircraft turning at up to 3°/s, climbing and descending at 8-15 m/s (reported as
  ``climb``), a formation pair 150 m apart, heard by three ADS-B receivers 0.2-0.5 s,
  0.5-1.2 s and 1-2 s late (so copies arrive out of order), the second with a 40 s outage;
- one aircraft also relayed by TIS-B under a non-ICAO address (``adsb:…``, sigma 60 m) by a
  ground station only the third receiver hears;
- 15 vessels on AIS heard by two shore stations (every broadcast can arrive twice), one of
  which changes its MMSI halfway, and two moored 40 m apart;
- 10 teams on PLI, two of them aboard vessels (aliased to the vessel's MMSI);
- 5 vehicles on APRS only, 10-20 m/s.
"""

import math
import random
from collections.abc import Iterator

from rallypoint.fusion.report import Domain, Report
from rallypoint.fusion.simulate import (
    Scenario,
    ScenarioSpec,
    SimObject,
    _Mover,
    _Receiver,
    _Simulation,
    _Transmitter,
    _Wingman,
)

ISSUE_SPEC = ScenarioSpec(seed=19, duration_s=180.0, aircraft=25, vessels=15, teams=10, clutter_per_s=0.0)
"""The scenario's defaults; ``seed`` and ``duration_s`` may be changed."""
FORMATION_M = 150.0
MOORED_APART_M = 40.0


class _Climber(_Mover):
    """A mover whose height changes: level, then climbs or descends at 8-15 m/s for a while."""

    def __init__(self, rng: random.Random, east: float, north: float, speed: float, turn_rate: float) -> None:
        super().__init__(rng, east, north, speed, turn_rate)
        self.up = rng.uniform(1000.0, 9000.0)
        self.climb = 0.0
        self.climb_left_s = 0.0

    def step(self, dt: float) -> None:
        super().step(dt)
        if self.climb_left_s <= 0.0:
            self.climb = 0.0
            if self.rng.random() < 0.03 * dt:
                self.climb = self.rng.choice((-1.0, 1.0)) * self.rng.uniform(8.0, 15.0)
                self.climb_left_s = self.rng.uniform(10.0, 40.0)
        self.up += self.climb * dt
        self.climb_left_s -= dt


class _IssueSimulation(_Simulation):
    def _add_aircraft(self) -> None:
        rng = self.rng
        outage = self._start_of_outage()
        receivers = [
            _Receiver("adsb-a", (200, 500), 0.05),
            _Receiver("adsb-b", (500, 1200), 0.1, ((outage, outage + 40_000),)),
            _Receiver("adsb-c", (1000, 2000), 0.15),
        ]
        for number in range(self.spec.aircraft):
            icao = f"icao:{0x480000 + number * 0x123:06x}"
            leader = self.movers[-1] if self.movers else None
            mover: _Mover | _Wingman
            if number == 1 and isinstance(leader, _Mover):
                mover = _Wingman(leader, FORMATION_M)
            else:
                start = (rng.uniform(-30_000.0, 30_000.0), rng.uniform(-30_000.0, 30_000.0))
                mover = _Climber(rng, *start, rng.uniform(80.0, 220.0), math.radians(3.0))
            transmitters = [_Transmitter("adsb", icao, 500, 10.0, tuple(receivers), height=True)]
            identities: tuple[str, ...] = (icao,)
            if number == 5:  # relayed by TIS-B under a non-ICAO address, heard by adsb-c alone
                tisb = f"adsb:{0x480000 + number * 0x123:06x}"
                transmitters.append(_Transmitter("adsb", tisb, 1000, 60.0, (receivers[2],), height=True))
                identities = (icao, tisb)
            self._add(mover, SimObject(f"aircraft-{number}", Domain.AIR, identities), transmitters)

    def _add_vessels(self) -> None:
        rng, duration_ms = self.rng, int(self.spec.duration_s * 1000)
        change_ms = duration_ms // 2
        for number in range(self.spec.vessels):
            mmsi = f"mmsi:{244000000 + number * 31}"
            shores = (
                _Receiver("ais-shore-1", (500, 2000), 0.05),
                _Receiver("ais-shore-2", (800, 3000), 0.1),
            )
            if number in {1, 2}:  # moored side by side
                start = (2000.0, -3000.0 + (number - 1) * MOORED_APART_M)
                mover = _Mover(rng, *start, 0.0, 0.0)
                ais = [_Transmitter("ais", mmsi, 30_000, 10.0, shores)]
                self._add(mover, SimObject(f"moored-{number}", Domain.SEA, (mmsi,)), ais)
                continue
            start = (rng.uniform(-15_000.0, 15_000.0), rng.uniform(-15_000.0, 0.0))
            mover = _Mover(rng, *start, rng.uniform(3.0, 10.0), math.radians(1.0))
            identities: tuple[str, ...] = (mmsi,)
            transmitters = [_Transmitter("ais", mmsi, 6_000, 10.0, shores)]
            if number == 3:  # its MMSI is reprogrammed halfway: old name silent after, new one before
                new = f"mmsi:{244000000 + number * 31 + 1}"
                before = tuple(r._replace(silences=((change_ms, duration_ms),)) for r in shores)
                after = tuple(r._replace(silences=((0, change_ms + 6_000),)) for r in shores)
                transmitters = [_Transmitter("ais", mmsi, 6_000, 10.0, before),
                                _Transmitter("ais", new, 6_000, 10.0, after)]  # fmt: skip
                identities = (mmsi, new)
            if number in {4, 5}:  # a team aboard: its PLI aliased to the vessel
                uid = f"uid:BOAT-{number}"
                tak = _Receiver("tak", (100, 400), 0.02)
                transmitters.append(_Transmitter("cot", uid, 5000, 6.0, (tak,)))
                self.aliases[mmsi] = uid
                identities = (*identities, uid)
            self._add(mover, SimObject(f"vessel-{number}", Domain.SEA, identities), transmitters)

    def _add_teams(self) -> None:
        rng = self.rng
        for number in range(self.spec.teams - 2):  # two of the ten are aboard vessels
            uid = f"uid:ANDROID-{number:04d}"
            start = (rng.uniform(-5_000.0, 5_000.0), rng.uniform(0.0, 8_000.0))
            mover = _Mover(rng, *start, rng.uniform(1.0, 2.0), math.radians(10.0))
            pli = _Transmitter("cot", uid, 5000, 5.0, (_Receiver("tak", (100, 400), 0.02),))
            self._add(mover, SimObject(f"team-{number}", Domain.GROUND, (uid,)), [pli])
        for number in range(5):
            call = f"aprs:CAR{number}-9"
            start = (rng.uniform(-8_000.0, 8_000.0), rng.uniform(0.0, 8_000.0))
            mover = _Mover(rng, *start, rng.uniform(10.0, 20.0), math.radians(8.0))
            aprs = _Transmitter("aprs", call, 10_000, 15.0, (_Receiver("aprs-is", (1000, 4000), 0.1),))
            self._add(mover, SimObject(f"vehicle-{number}", Domain.GROUND, (call,)), [aprs])

    def _start_of_outage(self) -> int:
        return int(self.rng.uniform(0.2, 0.6) * self.spec.duration_s * 1000)

    def _transmit(self, index: int, transmitter: _Transmitter, offset: int) -> Iterator[Report]:
        mover = self.movers[index]
        for report in super()._transmit(index, transmitter, offset):
            if not isinstance(mover, _Climber):
                yield report
                continue
            hae = mover.up + report.hae - self.heights[index] if report.hae is not None else None
            yield report._replace(hae=hae, climb=mover.climb)


def build_issue_scenario(seed: int = ISSUE_SPEC.seed, duration_s: float = ISSUE_SPEC.duration_s) -> Scenario:
    """The issue's scenario for ``seed``: the same seed gives the same reports, bit for bit."""
    spec = ScenarioSpec(
        seed=seed,
        duration_s=duration_s,
        aircraft=ISSUE_SPEC.aircraft,
        vessels=ISSUE_SPEC.vessels,
        teams=ISSUE_SPEC.teams,
        clutter_per_s=ISSUE_SPEC.clutter_per_s,
    )
    return _IssueSimulation(spec).run()

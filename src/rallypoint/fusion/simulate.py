"""A seeded scenario with ground truth, for tests and ``rallypoint bench fusion``.

What a command post on a coast sees: aircraft heard by two ADS-B receivers (one fast, one
seconds late, each with random drops and an outage; both hear the same broadcast, so
their copies are identical), a formation pair 200 m apart with distinct ICAO addresses,
vessels on AIS with gaps, a rescue boat on AIS whose crew's phone also sends PLI, teams
on PLI and APRS (aliases link both), clutter without identity, and a share of reports
delivered twice. The same seed gives the same reports, bit for bit.
"""

import math
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import NamedTuple

from rallypoint.fusion.geo import LocalFrame, course_from_velocity
from rallypoint.fusion.report import Domain, Report

EPOCH_MS = 1_767_225_600_000
"""Scenario start: 2026-01-01T00:00:00Z (any fixed instant would do)."""
TRUTH_STEP_MS = 500
"""Truth is integrated (and sampled for scoring) every half second."""


@dataclass(frozen=True, slots=True)
class ScenarioSpec:
    """The knobs of a scenario; the defaults are the bench's seeded scenario."""

    seed: int = 7
    duration_s: float = 300.0
    aircraft: int = 20
    """Including the formation pair."""
    vessels: int = 4
    """Including the rescue boat."""
    teams: int = 4
    origin: tuple[float, float] = (50.78, -1.10)
    clutter_per_s: float = 0.3
    duplicate_fraction: float = 0.05
    adsb_sigma_m: float = 10.0
    fast_delay_ms: tuple[int, int] = (200, 500)
    slow_delay_ms: tuple[int, int] = (2000, 3000)


class SimObject(NamedTuple):
    """One real-world object of the scenario and the identities its reports carry."""

    name: str
    domain: Domain
    identities: tuple[str, ...]


class Scenario(NamedTuple):
    """Reports in arrival order, truth positions (metres in ``frame``) every ``TRUTH_STEP_MS``."""

    spec: ScenarioSpec
    frame: LocalFrame
    objects: tuple[SimObject, ...]
    reports: tuple[Report, ...]
    truth: tuple[tuple[int, tuple[tuple[float, float], ...]], ...]
    """``(time_ms, position of every object in the order of objects)`` per step."""
    aliases: Mapping[str, str]


class _Mover:
    """Nearly constant velocity with occasional coordinated turns: ground truth for one object."""

    def __init__(self, rng: random.Random, east: float, north: float, speed: float, turn_rate: float) -> None:
        self.rng = rng
        self.east, self.north = east, north
        self.heading = rng.uniform(0.0, 2.0 * math.pi)
        self.speed = speed
        self.max_turn = turn_rate
        self.turn = 0.0
        self.turn_left_s = 0.0

    def step(self, dt: float) -> None:
        if self.turn_left_s <= 0.0 and self.rng.random() < 0.02 * dt:
            self.turn = self.rng.uniform(-self.max_turn, self.max_turn)
            self.turn_left_s = self.rng.uniform(5.0, 25.0)
        if self.turn_left_s > 0.0:
            self.heading += self.turn * dt
            self.turn_left_s -= dt
        self.east += self.speed * math.sin(self.heading) * dt
        self.north += self.speed * math.cos(self.heading) * dt

    @property
    def velocity(self) -> tuple[float, float]:
        return self.speed * math.sin(self.heading), self.speed * math.cos(self.heading)


class _Wingman:
    """Flies ``offset`` metres to the right of a leader, matching its velocity."""

    def __init__(self, leader: _Mover, offset: float) -> None:
        self.leader, self.offset = leader, offset

    def step(self, dt: float) -> None:
        """Moves with the leader (which is stepped on its own)."""

    @property
    def east(self) -> float:
        return self.leader.east + self.offset * math.cos(self.leader.heading)

    @property
    def north(self) -> float:
        return self.leader.north - self.offset * math.sin(self.leader.heading)

    @property
    def velocity(self) -> tuple[float, float]:
        return self.leader.velocity


class _Receiver(NamedTuple):
    """A feed hearing a transmitter: how late, how lossy, and when it is deaf."""

    source: str
    delay_ms: tuple[int, int]
    drop: float
    silences: tuple[tuple[int, int], ...] = ()
    """Offsets from the start (ms) during which nothing is heard: an outage or an AIS gap."""


class _Transmitter(NamedTuple):
    """A periodic position broadcast by one object, heard by one or more receivers."""

    kind: str
    identity: str
    period_ms: int
    sigma_m: float
    receivers: tuple[_Receiver, ...]
    height: bool = False


class _Simulation:
    """Builds one scenario; all randomness comes from ``rng``, in a fixed order."""

    def __init__(self, spec: ScenarioSpec) -> None:
        self.spec = spec
        self.rng = random.Random(spec.seed)
        self.frame = LocalFrame(*spec.origin)
        self.movers: list[_Mover | _Wingman] = []
        self.objects: list[SimObject] = []
        self.transmitters: list[list[_Transmitter]] = []
        self.heights: list[float] = []
        self.aliases: dict[str, str] = {}

    def run(self) -> Scenario:
        spec = self.spec
        self._add_aircraft()
        self._add_vessels()
        self._add_teams()
        reports: list[Report] = []
        truth: list[tuple[int, tuple[tuple[float, float], ...]]] = []
        for step in range(int(spec.duration_s * 1000 / TRUTH_STEP_MS) + 1):
            offset = step * TRUTH_STEP_MS
            if step:
                for mover in self.movers:
                    mover.step(TRUTH_STEP_MS / 1000.0)
            truth.append((EPOCH_MS + offset, tuple((m.east, m.north) for m in self.movers)))
            for index, transmitters in enumerate(self.transmitters):
                for transmitter in transmitters:
                    if offset % transmitter.period_ms == (index * TRUTH_STEP_MS) % transmitter.period_ms:
                        reports.extend(self._transmit(index, transmitter, offset))
        reports.extend(self._clutter())
        reports.extend(self._duplicates(reports))
        reports.sort(key=lambda r: (r.received_ms, r.source, r.time_ms))
        aliases = MappingProxyType(self.aliases)
        return Scenario(spec, self.frame, tuple(self.objects), tuple(reports), tuple(truth), aliases)

    def _add(self, mover: "_Mover | _Wingman", obj: SimObject, transmitters: list[_Transmitter]) -> None:
        self.movers.append(mover)
        self.objects.append(obj)
        self.transmitters.append(transmitters)
        self.heights.append(self.rng.uniform(1000.0, 10000.0) if obj.domain is Domain.AIR else 0.0)

    def _add_aircraft(self) -> None:
        spec, rng = self.spec, self.rng
        north = _Receiver("adsb-north", spec.fast_delay_ms, 0.05, (self._outage(),))
        south = _Receiver("adsb-south", spec.slow_delay_ms, 0.15, (self._outage(),))
        for number in range(spec.aircraft):
            icao = f"icao:{0x400000 + number * 0x111:06x}"
            leader = self.movers[-1] if self.movers else None
            if number == 1 and isinstance(leader, _Mover):
                mover: _Mover | _Wingman = _Wingman(leader, 200.0)  # aircraft 0 and 1 fly in formation
            else:
                start = (rng.uniform(-30_000.0, 30_000.0), rng.uniform(-30_000.0, 30_000.0))
                mover = _Mover(rng, *start, rng.uniform(80.0, 220.0), math.radians(3.0))
            adsb = _Transmitter("adsb", icao, 1000, spec.adsb_sigma_m, (north, south), height=True)
            self._add(mover, SimObject(f"aircraft-{number}", Domain.AIR, (icao,)), [adsb])

    def _add_vessels(self) -> None:
        rng = self.rng
        for number in range(self.spec.vessels):
            mmsi = f"mmsi:{235000000 + number * 17}"
            start = (rng.uniform(-15_000.0, 15_000.0), rng.uniform(-15_000.0, 0.0))
            mover = _Mover(rng, *start, rng.uniform(3.0, 10.0), math.radians(1.0))
            coast = _Receiver("ais-coast", (500, 2000), 0.05, (self._gap(), self._gap()))
            ais = _Transmitter("ais", mmsi, 10_000, 10.0, (coast,))
            if number == 0:  # the rescue boat: its crew's phone sends PLI as team Rescue-3
                pli = _Transmitter("cot", "uid:Rescue-3", 5000, 6.0, (_Receiver("tak", (100, 400), 0.02),))
                self._add(mover, SimObject("rescue-boat", Domain.SEA, (mmsi, "uid:Rescue-3")), [ais, pli])
                self.aliases[mmsi] = "uid:Rescue-3"
            else:
                self._add(mover, SimObject(f"vessel-{number}", Domain.SEA, (mmsi,)), [ais])

    def _add_teams(self) -> None:
        rng = self.rng
        for number in range(self.spec.teams):
            uid, call = f"uid:ANDROID-{number:04d}", f"aprs:TEAM{number}-9"
            start = (rng.uniform(-5_000.0, 5_000.0), rng.uniform(0.0, 8_000.0))
            mover = _Mover(rng, *start, rng.uniform(1.0, 2.0), math.radians(10.0))
            pli = _Transmitter("cot", uid, 5000, 5.0, (_Receiver("tak", (100, 400), 0.02),))
            aprs = _Transmitter("aprs", call, 30_000, 15.0, (_Receiver("aprs-is", (1000, 4000), 0.1),))
            self._add(mover, SimObject(f"team-{number}", Domain.GROUND, (uid, call)), [pli, aprs])
            self.aliases[call] = uid

    def _transmit(self, index: int, transmitter: _Transmitter, offset: int) -> Iterator[Report]:
        """One broadcast: a single noisy position, heard (or not) by each receiver."""
        rng, mover, obj = self.rng, self.movers[index], self.objects[index]
        sigma = transmitter.sigma_m
        east, north = mover.east + rng.gauss(0.0, sigma), mover.north + rng.gauss(0.0, sigma)
        v_east, v_north = mover.velocity
        lat, lon, _ = self.frame.to_geodetic(east, north)
        # a course is measured from true north where the object is, not at the scenario's origin
        # (30 km east at 51° N the two norths differ by 0.3°: 1 m/s across the track at 200 m/s)
        v_east, v_north = self.frame.velocity_in(LocalFrame(lat, lon), v_east, v_north)
        course, speed = course_from_velocity(v_east + rng.gauss(0.0, 0.5), v_north + rng.gauss(0.0, 0.5))
        hae = self.heights[index] + rng.gauss(0.0, 7.0) if transmitter.height else None
        time_ms = EPOCH_MS + offset
        for receiver in transmitter.receivers:
            lost = rng.random() < receiver.drop
            if lost or any(a <= offset < b for a, b in receiver.silences):
                continue
            received = time_ms + rng.randint(*receiver.delay_ms)
            yield Report(receiver.source, transmitter.kind, transmitter.identity, time_ms, received, lat, lon,
                         hae, course, speed, sigma, obj.domain, obj.name)  # fmt: skip

    def _outage(self) -> tuple[int, int]:
        """A receiver outage of 20-40 s somewhere in the run."""
        start = self.rng.uniform(0.2, 0.7) * self.spec.duration_s * 1000
        return int(start), int(start + self.rng.uniform(20_000, 40_000))

    def _gap(self) -> tuple[int, int]:
        """An AIS silence of 30-90 s (shadowed by land, a busy slot map)."""
        start = self.rng.uniform(0.0, self.spec.duration_s * 1000)
        return int(start), int(start + self.rng.uniform(30_000, 90_000))

    def _clutter(self) -> Iterator[Report]:
        """False plots without identity, uniform over the area (a radar gateway's noise)."""
        rng, spec = self.rng, self.spec
        for _ in range(int(spec.clutter_per_s * spec.duration_s)):
            time_ms = EPOCH_MS + int(rng.uniform(0.0, spec.duration_s * 1000))
            lat, lon, _ = self.frame.to_geodetic(
                rng.uniform(-40_000.0, 40_000.0), rng.uniform(-40_000.0, 40_000.0)
            )
            yield Report(
                "radar", "sim", None, time_ms, time_ms + 300, lat, lon, None, None, None, 50.0, Domain.AIR
            )

    def _duplicates(self, reports: list[Report]) -> list[Report]:
        """A share of reports delivered a second time, 0.5-5 s later (a feed re-sending)."""
        rng = self.rng
        chosen = [r for r in reports if rng.random() < self.spec.duplicate_fraction]
        return [r._replace(received_ms=r.received_ms + rng.randint(500, 5000)) for r in chosen]


def build_scenario(spec: ScenarioSpec = ScenarioSpec()) -> Scenario:
    """Simulate ``spec``: every random draw comes from one generator seeded by ``spec.seed``."""
    return _Simulation(spec).run()

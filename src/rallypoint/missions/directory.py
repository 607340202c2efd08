"""Which devices an assignee names: a device uid, a callsign, or a team colour.

Connected clients come from the router's registry; devices seen earlier are remembered here
(uid, callsign, team, groups from their last position report), so an assignment to a
callsign or team whose members are offline still reaches them through store-and-forward.
"""

from typing import NamedTuple

from rallypoint.router.registry import Registry, Subscriber

MAX_DEVICES = 100_000
"""Devices remembered at most; past it the oldest are forgotten (they can still be named by uid)."""


class Device(NamedTuple):
    uid: str
    callsign: str | None
    team: str | None
    groups: frozenset[str]


class Directory:
    """Devices seen on the streams (see the module docstring)."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry
        self._devices: dict[str, Device] = {}

    def saw(self, subscriber: Subscriber) -> None:
        """Remember a bound client's names (called for every routed event: kept cheap)."""
        uid = subscriber.uid
        if uid is None:
            return
        known = self._devices.get(uid)
        if known is not None and known.callsign == subscriber.callsign and known.team == subscriber.team:
            return
        if known is None and len(self._devices) >= MAX_DEVICES:
            del self._devices[next(iter(self._devices))]
        self._devices[uid] = Device(uid, subscriber.callsign, subscriber.team, subscriber.out_groups)

    def device(self, uid: str) -> Device | None:
        return self._devices.get(uid)

    def resolve(self, assignee: str, groups: frozenset[str]) -> list[str]:
        """Device uids ``assignee`` names among devices sharing one of ``groups``, in a stable order.

        A uid wins, then a callsign, then a team; a name matching nothing is taken as a uid
        (a device not seen yet: its messages wait in its mailbox).
        """
        if self._registry.by_uid(assignee) is not None or assignee in self._devices:
            return [assignee]
        for matches in (self._matching(groups, callsign=assignee), self._matching(groups, team=assignee)):
            if matches:
                return sorted(matches)
        return [assignee]

    def _matching(
        self, groups: frozenset[str], *, callsign: str | None = None, team: str | None = None
    ) -> set[str]:
        found: set[str] = set()
        for client in self._registry.clients():
            if (
                client.uid
                and not client.groups.isdisjoint(groups)
                and _named(client.callsign, client.team, callsign, team)
            ):
                found.add(client.uid)
        for device in self._devices.values():
            if not device.groups.isdisjoint(groups) and _named(device.callsign, device.team, callsign, team):
                found.add(device.uid)
        return found


def _named(have_callsign: str | None, have_team: str | None, callsign: str | None, team: str | None) -> bool:
    if callsign is not None:
        return have_callsign == callsign
    return team is not None and have_team == team

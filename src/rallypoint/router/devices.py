"""The one register of known devices: who each device is, and whether it is connected now.

Store-and-forward needs, for a directed message naming a device that is not connected, the
device uid its mail goes to (a ``dest`` or an objective's assignee may name a callsign or a
team) and whether the sender may reach it (its last groups). The missions service and the
API need the same names. So the router feeds one register: on bind (a connection's first
position report, and any change of callsign or team), on detach, and at start-up from the
stored picture (every device there is departed until it binds again). One register means a
name assigned after a restart resolves to the uid the device will bind when it returns.
"""

from dataclasses import dataclass

from rallypoint.cot import types
from rallypoint.cot.event import Dest

MAX_DEVICES = 100_000
"""Devices remembered; past it the one seen longest ago that is not connected is forgotten."""


@dataclass(slots=True)
class Device:
    """A device as the register knows it."""

    uid: str
    callsign: str | None
    team: str | None
    groups: frozenset[str]
    """Groups it receives from (when it was last connected)."""
    last_seen: int
    """Milliseconds since the epoch: bind, detach, or the stored report it was restored from."""
    connected: bool
    node: str = ""
    """The cluster node it is connected to when that is another one (``rallypoint.router.remote``)."""


class DeviceRegister:
    """Devices by uid, and their uids by callsign (see the module docstring)."""

    def __init__(self, limit: int = MAX_DEVICES) -> None:
        self._devices: dict[str, Device] = {}
        """By uid, least recently changed first (re-inserted on every change)."""
        self._by_callsign: dict[str, set[str]] = {}
        self._limit = limit

    def __len__(self) -> int:
        return len(self._devices)

    def get(self, uid: str) -> Device | None:
        return self._devices.get(uid)

    def devices(self) -> list[Device]:
        """Every known device, least recently changed first (for the API)."""
        return list(self._devices.values())

    def bound(
        self,
        uid: str,
        callsign: str | None,
        team: str | None,
        groups: frozenset[str],
        now_ms: int,
        *,
        node: str = "",
    ) -> None:
        """A connection bound ``uid``, or a bound one changed its callsign or team: it is connected
        (here, or to the cluster node ``node``)."""
        self._put(Device(uid, callsign, team, groups, now_ms, connected=True, node=node))

    def departed(self, uid: str, now_ms: int) -> None:
        """The last connection of ``uid`` closed."""
        device = self._devices.get(uid)
        if device is not None:
            device.connected = False
            device.last_seen = now_ms

    def restored(
        self, uid: str, callsign: str | None, team: str | None, groups: frozenset[str], seen_ms: int
    ) -> None:
        """A device from the stored picture at start-up: departed until it binds again."""
        known = self._devices.get(uid)
        if known is None or known.last_seen <= seen_ms:
            self._put(Device(uid, callsign, team, groups, seen_ms, connected=False))

    def named_by(self, dest: Dest) -> Device | None:
        """The device a ``<dest>`` names by uid or callsign, if known (a callsign: the latest seen)."""
        if dest.uid:
            return self._devices.get(dest.uid)
        if dest.callsign and dest.callsign != types.ALL_STREAMING:
            matches = [self._devices[uid] for uid in self._by_callsign.get(dest.callsign, ())]
            return max(matches, key=lambda d: (d.connected, d.last_seen)) if matches else None
        return None

    def elsewhere(self, dests: tuple[Dest, ...]) -> bool:
        """Whether a device some ``dest`` names is connected to another node of the cluster, which
        delivers it there: not to be kept here, nor its sender told it reached nobody."""
        for dest in dests:
            device = self.named_by(dest)
            if device is not None and device.connected and device.node:
                return True
        return False

    def resolve(self, assignee: str, groups: frozenset[str]) -> list[str]:
        """Device uids ``assignee`` names among devices sharing one of ``groups``, in a stable order.

        A uid wins, then a callsign, then a team; a name matching nothing is taken as a uid
        (a device not seen yet: its messages wait in its mailbox).
        """
        if assignee in self._devices:
            return [assignee]
        reachable = [d for d in self._devices.values() if not d.groups.isdisjoint(groups)]
        for matches in (
            [d.uid for d in reachable if d.callsign == assignee],
            [d.uid for d in reachable if d.team == assignee],
        ):
            if matches:
                return sorted(matches)
        return [assignee]

    def _put(self, device: Device) -> None:
        devices = self._devices
        self._forget(device.uid)
        if len(devices) >= self._limit:
            stale = next((d.uid for d in devices.values() if not d.connected), None)
            self._forget(stale if stale is not None else next(iter(devices)))
        devices[device.uid] = device
        if device.callsign:
            self._by_callsign.setdefault(device.callsign, set()).add(device.uid)

    def _forget(self, uid: str) -> None:
        device = self._devices.pop(uid, None)
        if device is None or not device.callsign:
            return
        holders = self._by_callsign.get(device.callsign)
        if holders is not None:
            holders.discard(uid)
            if not holders:
                del self._by_callsign[device.callsign]

"""The one register of known devices: names, connected or departed, bounded."""

from rallypoint.cot.event import Dest
from rallypoint.router.devices import DeviceRegister

CYAN = frozenset({"Cyan"})


def test_a_callsign_names_the_latest_device_and_follows_a_rename() -> None:
    register = DeviceRegister()
    register.restored("old", "Rescue-3", None, CYAN, 100)
    register.bound("new", "Rescue-3", "Blue", CYAN, 200)
    named = register.named_by(Dest(callsign="Rescue-3"))
    assert named is not None
    assert named.uid == "new"
    register.bound("new", "Rescue-4", "Blue", CYAN, 300)
    renamed = register.named_by(Dest(callsign="Rescue-3"))
    assert renamed is not None
    assert renamed.uid == "old"
    assert register.resolve("Blue", CYAN) == ["new"]
    assert register.resolve("Blue", frozenset({"Red"})) == ["Blue"]  # not reachable: taken as a uid


def test_departure_is_recorded_and_a_restore_never_overwrites_newer_knowledge() -> None:
    register = DeviceRegister()
    register.bound("dev", "Alpha", None, CYAN, 500)
    register.departed("dev", 600)
    register.restored("dev", "Stale-name", None, CYAN, 100)
    device = register.get("dev")
    assert device is not None
    assert (device.callsign, device.connected, device.last_seen) == ("Alpha", False, 600)


def test_past_the_limit_a_departed_device_is_forgotten_before_a_connected_one() -> None:
    register = DeviceRegister(limit=2)
    register.bound("live", "A", None, CYAN, 1)
    register.restored("gone", "B", None, CYAN, 2)
    register.bound("newcomer", "C", None, CYAN, 3)
    assert register.get("gone") is None
    assert register.get("live") is not None
    assert register.named_by(Dest(callsign="B")) is None

"""Active emergencies, re-sent on a period until someone cancels them (reference §5.10).

ATAK sends an alert once with a ten-second stale and leaves repetition to the server, so
the server re-stamps every active alert and sends it again, keeping it alive on every map
and in the cache that new clients are replayed from.

Only whoever raised an alert can cancel it: its owner is the identity that sent it (the
certificate's user), or for an anonymous sender the device uid its connection is bound to,
or that one connection. A cancel naming someone else's alert, by its uid or by a link to
the same device, is refused as a whole (:meth:`AlertBoard.foreign`).
"""

from typing import NamedTuple

from rallypoint.cot import types
from rallypoint.cot.event import Event
from rallypoint.router.registry import Subscriber

DEFAULT_PERIOD_MS = 3_000
DEFAULT_LIFETIME_MS = 15_000
"""Each repetition stays valid this long, so a missed one does not drop the alert."""

MAX_ACTIVE_ALERTS = 1_000
"""A flood of fake alerts cannot grow the board without bound."""


class ActiveAlert(NamedTuple):
    """An alert being repeated, with who raised it and who may see it."""

    event: Event
    groups: frozenset[str]
    sender_id: int
    next_due: int
    owner: str = ""
    """Who may cancel it (see :meth:`AlertBoard.observe`)."""
    activated: int = 0
    """When it was first raised (ms), as TAK Server's repeater lists it."""


def is_cancel(event: Event) -> bool:
    """A ``b-a-o-can`` event, or an ``<emergency cancel="true">``."""
    emergency = event.detail.emergency if event.detail else None
    return event.type == types.EMERGENCY_CANCEL or (emergency is not None and emergency.cancel)


def identity_key(identity: str) -> str:
    """The owner key of a certificate's user (what the repeater API compares a caller to)."""
    return f"identity {identity}"


def sender_key(sender: Subscriber) -> str:
    """Who ``sender`` is for what it owns (alerts, cache share): identity, else device, else connection."""
    if sender.identity is not None:
        return identity_key(sender.identity)
    if sender.uid is not None:
        return f"device {sender.uid}"
    return f"connection #{sender.id}"


def _raised_by(alert: ActiveAlert, owner: str, sender_id: int) -> bool:
    """The same owner, or the same connection (which may have bound its uid since)."""
    return alert.owner == owner or alert.sender_id == sender_id


class AlertBoard:
    """The set of active alerts, keyed by the alert's uid."""

    def __init__(self, period_ms: int = DEFAULT_PERIOD_MS, lifetime_ms: int = DEFAULT_LIFETIME_MS) -> None:
        self.period_ms = period_ms
        self.lifetime_ms = lifetime_ms
        self._active: dict[str, ActiveAlert] = {}

    def __len__(self) -> int:
        return len(self._active)

    def observe(
        self, event: Event, groups: frozenset[str], sender_id: int, now_ms: int, owner: str = ""
    ) -> list[str] | None:
        """Start or stop repeating, as ``event`` from ``owner`` says.

        Returns None for an event that is neither an alert nor a cancel, else the uids of
        the alerts it cancelled (empty for a new alert). A cancel stops only alerts
        ``owner`` raised.
        """
        if is_cancel(event):
            return self._cancel(event, owner, sender_id)
        if not types.is_emergency(event.type):
            return None
        active = self._active.get(event.uid)
        if active is not None and not _raised_by(active, owner, sender_id):
            return []  # someone else's alert: re-sending its uid neither takes it nor stops it
        if active is not None or len(self._active) < MAX_ACTIVE_ALERTS:
            activated = active.activated if active is not None else now_ms
            self._active[event.uid] = ActiveAlert(
                event, groups, sender_id, now_ms + self.period_ms, owner, activated
            )
        return []

    def active(self) -> list[ActiveAlert]:
        """Every alert being repeated (the repeater API filters them by group)."""
        return list(self._active.values())

    def stop(self, uid: str) -> None:
        """Stop repeating the alert ``uid`` (the repeater API, after its own checks)."""
        self._active.pop(uid, None)

    def foreign(self, event: Event, owner: str, sender_id: int) -> list[str]:
        """The active alerts the cancel ``event`` names that neither ``owner`` nor this connection raised."""
        return [uid for uid, alert in self._matching(event) if not _raised_by(alert, owner, sender_id)]

    def _matching(self, event: Event) -> list[tuple[str, ActiveAlert]]:
        """Alerts with the cancel's uid or raised for the same device (``link p-p``)."""
        linked = {link.uid for link in event.detail.links} if event.detail else set()
        found = []
        for uid, alert in self._active.items():
            origin = {link.uid for link in alert.event.detail.links} if alert.event.detail else set()
            if uid == event.uid or (linked and not linked.isdisjoint(origin)):
                found.append((uid, alert))
        return found

    def _cancel(self, event: Event, owner: str, sender_id: int) -> list[str]:
        cancelled = [uid for uid, alert in self._matching(event) if _raised_by(alert, owner, sender_id)]
        for uid in cancelled:
            del self._active[uid]
        return cancelled

    def due(self, now_ms: int) -> list[ActiveAlert]:
        """Alerts whose repetition is due, re-stamped with ``now_ms``, and reschedule them."""
        repeats: list[ActiveAlert] = []
        for uid, alert in list(self._active.items()):
            if alert.next_due <= now_ms:
                fresh = alert.event._replace(time=now_ms, start=now_ms, stale=now_ms + self.lifetime_ms)
                self._active[uid] = alert._replace(event=fresh, next_due=now_ms + self.period_ms)
                repeats.append(self._active[uid])
        return repeats

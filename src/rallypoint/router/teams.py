"""Which team a client is in, when ``isolate_teams`` makes the team a routing boundary.

The ``__group`` team colour is display information that every position report repeats. With
isolation on it decides who receives what, so it must come from the server's record, not from
each message: the first report of an identity (kept across its reconnects) or, for an
anonymous client, of its connection. A later report naming another team changes nothing.
"""

from rallypoint.router.registry import Subscriber

MAX_REMEMBERED_TEAMS = 100_000
"""Identities whose team is remembered; far more than any deployment has users."""


class TeamBook:
    """The recorded team of each identity, and the rule that applies a report's team."""

    def __init__(self, isolate: bool) -> None:
        self.isolate = isolate
        self._by_identity: dict[str, str] = {}

    def apply(self, sender: Subscriber, team: str, role: str) -> str | None:
        """Take the team and role of ``sender``'s report; return the team it stays in when refused."""
        recorded = sender.team
        if self.isolate and recorded is None and sender.identity is not None:
            recorded = self._by_identity.get(sender.identity)
        if self.isolate and recorded is not None and recorded != team:
            sender.team = recorded
            return recorded
        sender.team, sender.role = team, role
        if self.isolate and sender.identity is not None:
            if len(self._by_identity) >= MAX_REMEMBERED_TEAMS:
                self._by_identity.clear()
            self._by_identity[sender.identity] = team
        return None

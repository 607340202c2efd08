"""Who receives an event: groups, ``marti/dest``, the GeoChat envelope, teams (reference §5).

A message from S reaches R when some group S sends into is one R receives from.
``marti/dest`` narrows delivery to named clients (a named client outside the sender's groups
is refused, and reported), GeoChat without ``marti`` falls back on its chat envelope, and
everything else goes to every reachable client.
"""

import logging
from collections.abc import Set as AbstractSet

from rallypoint.cot import types
from rallypoint.cot.event import Event
from rallypoint.router.refusals import Denial, Refusals, describe
from rallypoint.router.registry import Registry, Subscriber
from rallypoint.router.stats import Counters
from rallypoint.router.teams import TeamBook

log = logging.getLogger(__name__)

TEAM_CHAT_PARENT = "TeamGroups"


class Addressing:
    """The recipients of each event, read from the registry; refusals are counted and reported."""

    def __init__(self, registry: Registry, teams: TeamBook, counters: Counters, refusals: Refusals) -> None:
        self.registry = registry
        self.teams = teams
        self.counters = counters
        self.refusals = refusals

    def recipients(self, sender: Subscriber, event: Event, now_ms: int) -> AbstractSet[Subscriber]:
        """The clients ``event`` from ``sender`` goes to (the sender may be among them)."""
        reachable = self.registry.reachable_from(sender.in_groups)
        detail = event.detail
        if detail is not None and detail.dests:
            return self._directed(sender, event, reachable, now_ms)
        if detail is not None and detail.chat is not None and not detail.has_marti:
            return self._chat_fallback(sender, event, reachable)
        if self.teams.isolate and sender.team is not None:
            return {sub for sub in reachable if sub.team == sender.team}
        return reachable  # the caller skips the sender

    def _directed(
        self, sender: Subscriber, event: Event, reachable: AbstractSet[Subscriber], now_ms: int
    ) -> set[Subscriber]:
        targets: set[Subscriber] = set()
        assert event.detail is not None
        for dest in event.detail.dests:
            if dest.callsign == types.ALL_STREAMING:
                targets |= reachable
            elif dest.callsign:
                targets |= self.registry.by_callsign(dest.callsign)
            if dest.uid:
                bound = self.registry.by_uid(dest.uid)
                if bound is not None:
                    targets.add(bound)
            if dest.group:
                if dest.group in sender.in_groups:
                    targets |= self.registry.members(dest.group)
                else:
                    self.counters.inc("dropped{reason=illegal_group}")
                    if self.refusals.first("group_denied", sender, dest.group, now_ms):
                        log.warning("%r addressed group %r it does not belong to", sender, dest.group)
                        self.refusals.report(Denial("group_denied", sender, event, dest.group, None))
            if dest.mission or dest.mission_guid:
                self.counters.inc("dest_mission")  # the missions service adds and forwards it (observer)
        targets.discard(sender)
        for denied in [target for target in targets if target not in reachable]:
            self._deny_recipient(sender, event, denied, now_ms)
            targets.discard(denied)
        return targets

    def _deny_recipient(self, sender: Subscriber, event: Event, recipient: Subscriber, now_ms: int) -> None:
        """A directed message named a connected client outside the sender's groups: not delivered."""
        self.counters.inc("group_denied")
        name = describe(recipient)
        if self.refusals.first("group_denied", sender, name, now_ms):
            log.warning(
                "%s addressed %s (%s) outside its groups: not delivered",
                describe(sender),
                recipient.callsign or recipient.uid,
                name,
            )
            self.refusals.report(
                Denial("group_denied", sender, event, recipient.callsign or recipient.uid or "", name)
            )

    def _chat_fallback(
        self, sender: Subscriber, event: Event, reachable: AbstractSet[Subscriber]
    ) -> set[Subscriber]:
        """GeoChat from clients that add no ``marti``: route by the chat envelope (taky's rule)."""
        assert event.detail is not None
        assert event.detail.chat is not None
        chat = event.detail.chat
        if chat.chatroom == types.ALL_CHAT_ROOMS:
            return {sub for sub in reachable if sub is not sender}
        if chat.parent == TEAM_CHAT_PARENT:
            team = sender.team if self.teams.isolate else chat.chatroom  # isolated: its own team only
            return {sub for sub in reachable if sub.team == team and sub is not sender}
        recipient = self.registry.by_uid(chat.chat_id)
        if recipient is not None and recipient in reachable and recipient is not sender:
            return {recipient}
        return {sub for sub in reachable if sub is not sender}

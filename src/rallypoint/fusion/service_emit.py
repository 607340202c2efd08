"""Fused tracks out as CoT: to which groups, how often, and with which affiliation.

A track goes to the groups of the feeds that contributed to it; a track seen only through
connected clients' own position reports is not sent at all (those clients already show
themselves). One icon per real-world object: a track that is also a connected client (an
alias joined a vessel's AIS to the phone of the team aboard) is not sent into the groups
where that client's own position report is still fresh, since the client's relayed report
already is the object's icon there; it is sent (under its own ``fused-`` uid, never the
client's) into the feeds' other groups, and everywhere once the client's report is stale.

Updates go out as they come (emit on update), at most one per track per
``min_emit_interval_s`` unless something significant changed (a source joined or left, its
callsign, coasting, where it is shown); an update held back is sent by
:meth:`TrackEmitter.flush` as soon as its interval has passed (:meth:`TrackEmitter.next_due_ms`
says when), so the latest state of a track is never lost and never waits for a fixed poll.
"""

from collections.abc import Callable, Mapping
from typing import NamedTuple

from rallypoint.cot.event import Event
from rallypoint.fusion.feeds.config import FeedConfig
from rallypoint.fusion.output import deletion_event, track_to_event
from rallypoint.fusion.track import Track, TrackUpdate
from rallypoint.router.stats import Counters

Inject = Callable[[Event, frozenset[str], str | None], int]
ClientShown = Callable[[Track, int], frozenset[str]]
"""(track, now_ms) → the groups where a fresh position report of the client the track is
(one of its ``uid:`` identities) already shows the object."""
UNKNOWN_AFFILIATION = "u"


class _Sent(NamedTuple):
    at_ms: int
    groups: frozenset[str]
    affiliation: str
    signature: tuple[object, ...]
    """What makes a change significant: sources, identities, callsign, coasting."""
    track: Track


def signature(track: Track) -> tuple[object, ...]:
    """The parts of a track whose change is sent at once, whatever the rate limit."""
    return (tuple(sorted(track.sources)), track.identities, track.callsign, track.coasting)


class TrackEmitter:
    """Turns engine updates into injected CoT events, rate-limited per track."""

    def __init__(
        self,
        feeds: Mapping[str, FeedConfig],
        inject: Inject,
        counters: Counters,
        *,
        stale_s: float,
        min_interval_ms: int,
        client_shown: ClientShown | None = None,
    ) -> None:
        self.feeds = feeds
        self.inject = inject
        self.counters = counters
        self.stale_s = stale_s
        self.min_interval_ms = min_interval_ms
        self.client_shown = client_shown
        self._sent: dict[str, _Sent] = {}
        self._held: dict[str, Track] = {}
        self._withheld: dict[str, Track] = {}
        """Tracks not sent anywhere because their client shows itself; rechecked by ``flush``."""

    def emitted(self, uid: str) -> bool:
        """True if ``uid`` is a track this emitter has announced (so it is ours, not a client's)."""
        return uid in self._sent

    def routing(self, track: Track) -> tuple[frozenset[str], str]:
        """(groups, affiliation) for a track: its feeds' groups; the first feed (by name) that
        declares an affiliation other than unknown decides it."""
        feeds = [self.feeds[name] for name in sorted(track.sources) if name in self.feeds]
        groups = frozenset().union(*(feed.groups for feed in feeds)) if feeds else frozenset[str]()
        declared = [feed.affiliation for feed in feeds if feed.affiliation != UNKNOWN_AFFILIATION]
        return groups, declared[0] if declared else UNKNOWN_AFFILIATION

    def targets(self, track: Track, now_ms: int) -> tuple[frozenset[str], str]:
        """(groups the track is sent into now, affiliation): its feeds' groups less those where
        the client it is shows itself."""
        groups, affiliation = self.routing(track)
        if groups and self.client_shown is not None:
            groups -= self.client_shown(track, now_ms)
        return groups, affiliation

    def offer(self, update: TrackUpdate, now_ms: int) -> None:
        """Send the update now, hold it for the rate limit, or (deletion) retract the track."""
        track = update.track
        if update.deleted:
            self._held.pop(track.uid, None)
            self._withheld.pop(track.uid, None)
            sent = self._sent.pop(track.uid, None)
            if sent is not None:
                self._send(deletion_event(track, now_ms, affiliation=sent.affiliation), sent.groups)
            return
        sent = self._sent.get(track.uid)
        if (
            sent is None
            or now_ms - sent.at_ms >= self.min_interval_ms
            or sent.signature != signature(track)
            or sent.groups != self.targets(track, now_ms)[0]
        ):
            self._announce(track, now_ms)
        else:
            self._held[track.uid] = track
            self.counters.inc("fusion_updates_held")

    def next_due_ms(self) -> int | None:
        """When the earliest held update may go out (None: nothing held)."""
        if not self._held:
            return None
        return min(self._sent[uid].at_ms for uid in self._held) + self.min_interval_ms

    def flush(self, now_ms: int) -> None:
        """Send held updates whose track's interval has passed, withheld tracks whose client no
        longer shows itself (its position report went stale), and tracks silent for half their
        stale time again, so that a live track never goes stale on the map (a vessel at
        anchor reports every 3 minutes, the events' stale time is a minute)."""
        due = [
            uid for uid, track in self._held.items() if now_ms - self._sent[uid].at_ms >= self.min_interval_ms
        ]
        for uid in due:
            self._announce(self._held.pop(uid), now_ms)
        refresh_ms = self.stale_s * 500
        for sent in [sent for sent in self._sent.values() if now_ms - sent.at_ms >= refresh_ms]:
            self._announce(sent.track, now_ms)
        for track in list(self._withheld.values()):
            if self.targets(track, now_ms)[0]:
                self._announce(track, now_ms)

    def _announce(self, track: Track, now_ms: int) -> None:
        self._held.pop(track.uid, None)
        self._withheld.pop(track.uid, None)
        groups, affiliation = self.targets(track, now_ms)
        previous = self._sent.get(track.uid)
        if previous is not None and previous.groups - groups:
            # its last feed left it, or its client now shows itself there: retract it there
            dropped = previous.groups - groups
            self._send(deletion_event(track, now_ms, affiliation=previous.affiliation), dropped)
        if not groups:
            self._sent.pop(track.uid, None)
            if self.routing(track)[0]:
                self._withheld[track.uid] = track
            return
        event = track_to_event(track, now_ms, affiliation=affiliation, stale_s=self.stale_s)
        self._sent[track.uid] = _Sent(now_ms, groups, affiliation, signature(track), track)
        self._send(event, groups)

    def _send(self, event: Event, groups: frozenset[str]) -> None:
        self.counters.inc("fusion_events_out")
        self.inject(event, groups, None)

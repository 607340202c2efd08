"""Fused tracks out as CoT: to which groups, how often, and with which affiliation.

A track goes to the groups of the feeds that contributed to it; a track seen only through
connected clients' own position reports is not sent at all (those clients already show
themselves). Each track goes out at most once per ``min_emit_interval_s`` unless something
significant changed (a source joined or left, its callsign, coasting); updates held back
are sent by :meth:`TrackEmitter.flush` once their interval has passed, so the last state
of a track is never lost.
"""

from collections.abc import Callable, Mapping
from typing import NamedTuple

from rallypoint.cot.event import Event
from rallypoint.fusion.feeds.config import FeedConfig
from rallypoint.fusion.output import deletion_event, track_to_event
from rallypoint.fusion.track import Track, TrackUpdate
from rallypoint.router.stats import Counters

Inject = Callable[[Event, frozenset[str], str | None], int]
UNKNOWN_AFFILIATION = "u"


class _Sent(NamedTuple):
    at_ms: int
    groups: frozenset[str]
    affiliation: str
    signature: tuple[object, ...]
    """What makes a change significant: sources, identities, callsign, coasting."""


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
    ) -> None:
        self.feeds = feeds
        self.inject = inject
        self.counters = counters
        self.stale_s = stale_s
        self.min_interval_ms = min_interval_ms
        self._sent: dict[str, _Sent] = {}
        self._held: dict[str, Track] = {}

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

    def offer(self, update: TrackUpdate, now_ms: int) -> None:
        """Send the update now, hold it for the rate limit, or (deletion) retract the track."""
        track = update.track
        if update.deleted:
            self._held.pop(track.uid, None)
            sent = self._sent.pop(track.uid, None)
            if sent is not None:
                self._send(deletion_event(track, now_ms, affiliation=sent.affiliation), sent.groups)
            return
        sent = self._sent.get(track.uid)
        if sent is None or sent.signature != signature(track) or now_ms - sent.at_ms >= self.min_interval_ms:
            self._announce(track, now_ms)
        else:
            self._held[track.uid] = track
            self.counters.inc("fusion_updates_held")

    def flush(self, now_ms: int) -> None:
        """Send held updates whose track's interval has passed."""
        due = [
            uid for uid, track in self._held.items() if now_ms - self._sent[uid].at_ms >= self.min_interval_ms
        ]
        for uid in due:
            self._announce(self._held.pop(uid), now_ms)

    def _announce(self, track: Track, now_ms: int) -> None:
        self._held.pop(track.uid, None)
        groups, affiliation = self.routing(track)
        previous = self._sent.get(track.uid)
        if not groups:
            if previous is not None:  # its last feed left it: only clients' own reports remain
                del self._sent[track.uid]
                self._send(deletion_event(track, now_ms, affiliation=previous.affiliation), previous.groups)
            return
        event = track_to_event(track, now_ms, affiliation=affiliation, stale_s=self.stale_s)
        self._sent[track.uid] = _Sent(now_ms, groups, affiliation, signature(track))
        self._send(event, groups)

    def _send(self, event: Event, groups: frozenset[str]) -> None:
        self.counters.inc("fusion_events_out")
        self.inject(event, groups, None)

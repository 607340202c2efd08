"""When a track starts being shown, starts coasting and is deleted.

A report with an identity (ICAO address, MMSI, callsign, uid) is strong evidence of a real
object, so its track is confirmed at once. A track started from reports without identity
must collect ``confirm_hits`` of them first: clutter rarely lines up three times.
Deletion is by silence measured in receive time, so a feed replaying old data with
current receive times keeps its tracks alive exactly as long as it keeps talking.
"""

from typing import Protocol

from rallypoint.fusion.track import TrackFile
from rallypoint.fusion.tuning import FusionConfig


class Initiator(Protocol):
    """Decides when a new track is real enough to be shown."""

    def is_confirmed(self, track: TrackFile) -> bool: ...


class Deleter(Protocol):
    """Decides when a silent track coasts and when it goes."""

    def is_coasting(self, track: TrackFile, now_ms: int) -> bool: ...

    def is_dead(self, track: TrackFile, now_ms: int) -> bool: ...


class HitsInitiator:
    """Identity → confirmed; otherwise confirmed after ``hits`` reports."""

    __slots__ = ("hits",)

    def __init__(self, hits: int) -> None:
        self.hits = hits

    def is_confirmed(self, track: TrackFile) -> bool:
        """True once the track is worth showing."""
        return bool(track.identities) or track.hits >= self.hits


class SilenceDeleter:
    """Coasting and deletion after a domain-specific silence; tentative tracks go sooner."""

    __slots__ = ("_config",)

    def __init__(self, config: FusionConfig) -> None:
        self._config = config

    def is_coasting(self, track: TrackFile, now_ms: int) -> bool:
        """Unheard for longer than the domain's coasting time."""
        return now_ms - track.last_received_ms > self._config.models[track.domain].coast_ms

    def is_dead(self, track: TrackFile, now_ms: int) -> bool:
        """Unheard for longer than the domain's silence (or the tentative silence)."""
        config = self._config
        limit = config.models[track.domain].silence_ms if track.confirmed else config.tentative_silence_ms
        return now_ms - track.last_received_ms > limit

"""What the engine did with the reports it was given: the counts the service exports as metrics."""

from dataclasses import dataclass


@dataclass(slots=True)
class FusionCounters:
    """What happened to the reports; exported as metrics by the service."""

    reports: int = 0
    invalid: int = 0
    """Non-finite or out-of-range position, or a non-positive error estimate."""
    future: int = 0
    """Timestamp too far ahead of the engine's clock."""
    duplicates: int = 0
    late_reprocessed: int = 0
    """Older than its track's estimate and filtered again in time order."""
    late_dropped: int = 0
    """Older than the track's history (or ``max_lag_ms``): ignored so the state stays right."""
    over_capacity: int = 0
    tracks_created: int = 0
    tracks_deleted: int = 0
    tracks_merged: int = 0
    identities_adopted: int = 0
    """A second identity joined a track with identities by kinematics (TIS-B, MMSI change)."""

"""What every listener and connection shares: settings, router, counters, clocks, limits."""

import time
from dataclasses import dataclass, field

from rallypoint import __version__
from rallypoint.config import Settings
from rallypoint.cot.xml import XmlLimits
from rallypoint.router.router import Router
from rallypoint.router.stats import Counters


def wall_clock_ms() -> int:
    """Milliseconds since the Unix epoch: the time written into CoT events."""
    return time.time_ns() // 1_000_000


@dataclass
class ServerContext:
    """Shared state of one running server; created once by :class:`rallypoint.net.server.Server`."""

    settings: Settings
    router: Router
    counters: Counters
    xml_limits: XmlLimits
    server_version: str = f"Rallypoint {__version__}"
    connections: set[object] = field(default_factory=set)
    watched: set[object] = field(default_factory=set)
    """Connections with a running timer (stalled writes, unfinished message): the tick checks these."""

    @classmethod
    def from_settings(cls, settings: Settings) -> "ServerContext":
        """Build the router and limits the settings describe."""
        counters = Counters()
        return cls(
            settings=settings,
            router=Router(counters=counters, isolate_teams=settings.isolate_teams),
            counters=counters,
            xml_limits=XmlLimits(max_event_bytes=settings.max_event_bytes, max_depth=settings.max_xml_depth),
        )

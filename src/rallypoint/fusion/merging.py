"""Track-to-track fusion: one track absorbs another that turned out to be the same object.

It happens when an alias makes two live tracks one (``FusionEngine.set_alias``). The
survivor re-filters the absorbed track's recent reports in time order (its own history
slots them in, as for late reports), and takes over its provenance, identities and display
fields; the engine deletes the absorbed track. Kept apart from the engine because it is
bookkeeping about two track files, not about routing reports.
"""

from collections.abc import Callable
from types import MappingProxyType

from rallypoint.fusion.report import Domain, Report
from rallypoint.fusion.track import TrackFile


def merge_tracks(
    survivor: TrackFile, absorbed: TrackFile, refilter: Callable[[TrackFile, Report], None]
) -> None:
    """Replay ``absorbed``'s history into ``survivor`` with ``refilter`` and take over the rest of it."""
    for report, _, _ in absorbed.history:
        if not survivor.is_duplicate(report):
            refilter(survivor, report)
    for name, (kind, identity, last_ms, sigma_m, count) in absorbed.sources.items():
        mine = survivor.sources.get(name)
        if mine is None or last_ms > mine[2]:
            survivor.sources[name] = (kind, identity, last_ms, sigma_m, count + (mine[4] if mine else 0))
    for identity in absorbed.identities:
        survivor.add_identity(identity)
    survivor.callsign = survivor.callsign or absorbed.callsign
    survivor.attributes = MappingProxyType({**absorbed.attributes, **survivor.attributes})
    survivor.last_received_ms = max(survivor.last_received_ms, absorbed.last_received_ms)
    survivor.first_ms = min(survivor.first_ms, absorbed.first_ms)
    if survivor.domain is Domain.GROUND:
        survivor.domain = absorbed.domain
    survivor.confirmed = survivor.confirmed or absorbed.confirmed

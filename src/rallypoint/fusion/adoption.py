"""When a newly seen identity may join a track that already has identities.

Identity-first association keeps two identities of one namespace apart (a formation of two
aircraft 150 m apart stays two tracks), so a second name of one object used to start a
second track for good. Two cases are a second name, not a second object:

- **Secondary addresses.** readsb writes TIS-B and other non-ICAO addresses as ``~hex``
  (``adsb:`` here). A ground station relaying an aircraft that one receiver also hears
  directly gives it a second address; a TIS-B identity may join a track of ICAO
  identities, and an ICAO one a track known only by TIS-B addresses.
- **Handover in one namespace.** An AIS transponder reprogrammed with a new MMSI: the new
  identity may join a track of the same namespace whose identities have all been silent
  for ``HANDOVER_SILENCE_MS``; an object still reporting under its old name is another one.

The engine adds the kinematic test: the newcomer's first report must fall in the gate of
exactly one such track. Each join is kept as an :class:`~rallypoint.fusion.track.Adoption`
in the track's provenance.
"""

from rallypoint.fusion.report import Report
from rallypoint.fusion.track import TrackFile

SECONDARY_NAMESPACE = "adsb"
"""TIS-B / non-ICAO addresses."""
PRIMARY_NAMESPACE = "icao"
HANDOVER_NAMESPACES = frozenset({"mmsi", "aprs"})
"""Namespaces whose identity an operator can change on a live object (MMSI, APRS callsign-SSID)."""
HANDOVER_SILENCE_MS = 5_000
"""The old identity must be this long silent: a moving AIS class A reports every 2-10 s, so
two identities heard within 5 s of each other are two transponders."""


def namespace(identity: str) -> str:
    """``"icao"`` for ``"icao:3c6444"``."""
    return identity.partition(":")[0]


def may_adopt(track: TrackFile, identity: str, report: Report) -> bool:
    """Whether ``identity`` (first seen in ``report``) may join ``track`` if the kinematics match."""
    if not track.identities:
        return True
    return adoption_rule(track, identity, report) != ""


def adoption_rule(track: TrackFile, identity: str, report: Report) -> str:
    """The rule that lets ``identity`` join ``track`` (``""`` if none does)."""
    spaces = {namespace(known) for known in track.identities}
    new = namespace(identity)
    if new == SECONDARY_NAMESPACE and SECONDARY_NAMESPACE not in spaces and spaces <= {PRIMARY_NAMESPACE}:
        return "secondary"
    if new == PRIMARY_NAMESPACE and spaces == {SECONDARY_NAMESPACE}:
        return "secondary"
    if new in HANDOVER_NAMESPACES and spaces == {new}:
        newest = max(row[2] for row in track.sources.values())  # SourceRow: kind, identity, last, …
        if report.time_ms - newest >= HANDOVER_SILENCE_MS:
            return "handover"
    return ""

"""What a decoder hands back for one unit of input: reports, and why anything was skipped."""

from typing import NamedTuple

from rallypoint.fusion.report import Report


class Decoded(NamedTuple):
    """Reports decoded from one line, datagram or document, and the reasons for what was not.

    ``errors`` are malformed input (counted per feed and reason, then skipped); ``ignored``
    are well-formed messages that carry no position (a status packet, a callsign-only Mode S
    message) and are counted separately, since they say nothing bad about the feed.
    """

    reports: tuple[Report, ...] = ()
    errors: tuple[str, ...] = ()
    ignored: tuple[str, ...] = ()


NOTHING = Decoded()


def error(reason: str) -> Decoded:
    """One rejected unit, for ``reason`` (a short, stable label)."""
    return Decoded(errors=(reason,))


def ignored(reason: str) -> Decoded:
    """One unit that was fine but held no position."""
    return Decoded(ignored=(reason,))


def one(report: Report) -> Decoded:
    """One report."""
    return Decoded(reports=(report,))

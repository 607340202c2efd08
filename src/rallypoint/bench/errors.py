"""The one error the benchmark raises on purpose.

It lives here rather than in ``rallypoint.errors`` because only the bench command catches
it; it still derives from :class:`~rallypoint.errors.RallypointError` so the family holds.
"""

from rallypoint.errors import RallypointError


class BenchError(RallypointError):
    """The benchmark could not run: server did not start, a connection failed, a limit is too low."""

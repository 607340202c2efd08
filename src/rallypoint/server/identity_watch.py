"""The server timer's job that keeps the process's identity watch current.

Every :data:`~rallypoint.pki.watch.REVISION_POLL_S` the server's timer refreshes the
:class:`~rallypoint.pki.watch.IdentityWatch` (one read of the store's revision when nothing
changed). A store that is busy or broken does not stop the server: the failure is counted and
logged, and the next poll tries again.
"""

import logging
from datetime import UTC, datetime

from rallypoint.clock import Clock
from rallypoint.errors import PkiError
from rallypoint.pki.watch import REVISION_POLL_S, IdentityWatch
from rallypoint.router.stats import Counters

log = logging.getLogger(__name__)

__all__ = ["REVISION_POLL_S", "identity_poll_s", "refresh_identities"]


def identity_poll_s() -> float:
    """How often the timer refreshes the watch (read at each poll, so tests may turn it down)."""
    return REVISION_POLL_S


def refresh_identities(watch: IdentityWatch, counters: Counters, clock: Clock) -> None:
    """Refresh ``watch`` once; a store that cannot be read is counted, not raised."""
    try:
        watch.refresh(datetime.fromtimestamp(clock.wall_ms() / 1000, UTC))
    except PkiError as exc:
        counters.inc("identity_refresh_failed")
        log.warning("cannot read the identity store: %s", exc)

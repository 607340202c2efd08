"""The server's one task that keeps the process's identity watch current.

Every :data:`~rallypoint.pki.watch.REVISION_POLL_S` it refreshes the
:class:`~rallypoint.pki.watch.IdentityWatch` (one read of the store's revision when nothing
changed). A store that is busy or broken does not stop the server: the failure is counted and
logged, and the next poll tries again.
"""

import asyncio
import logging
from datetime import UTC, datetime

from rallypoint.errors import PkiError
from rallypoint.pki.watch import REVISION_POLL_S, IdentityWatch
from rallypoint.router.stats import Counters

log = logging.getLogger(__name__)

__all__ = ["REVISION_POLL_S", "follow_identities"]


async def follow_identities(watch: IdentityWatch, counters: Counters) -> None:
    """Refresh ``watch`` until cancelled."""
    while True:
        await asyncio.sleep(REVISION_POLL_S)
        try:
            watch.refresh(datetime.now(UTC))
        except PkiError as exc:
            counters.inc("identity_refresh_failed")
            log.warning("cannot read the identity store: %s", exc)

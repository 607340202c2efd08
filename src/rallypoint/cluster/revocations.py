"""Revocations shared by the nodes of a cluster: a device cut off on one node is cut off on all.

Each node keeps its identity store (a copy of the same CA and users, or one data directory
on one machine). When a node's identity watch sees certificates newly revoked (``rallypoint
cert revoke`` run against that node's store), the users they belong to cross the bus; every
other node revokes those users' certificates in its own store, and its own watch then closes
their connections within :data:`~rallypoint.pki.watch.REVISION_POLL_S`, as a local revocation
would. The serials a node revokes for another are known to it before its watch sees them, so
they are not sent back: nothing echoes.
"""

import logging
from collections.abc import Callable
from datetime import datetime

from rallypoint.errors import PkiError
from rallypoint.pki.identities import IdentitySnapshot, IdentityStore
from rallypoint.pki.watch import IdentityWatch
from rallypoint.router.stats import Counters

log = logging.getLogger(__name__)


class SharedRevocations:
    """Tells the other nodes about this node's revocations, and applies theirs here."""

    def __init__(
        self,
        identities: IdentityStore,
        watch: IdentityWatch,
        publish: Callable[[str], None],
        counters: Counters,
    ) -> None:
        self._identities = identities
        self._watch = watch
        self._publish = publish
        self._counters = counters
        self._known = frozenset(watch.snapshot.revoked)
        self._unsubscribe: Callable[[], None] | None = None

    def start(self) -> None:
        self._unsubscribe = self._watch.subscribe(self._changed)

    def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def _changed(self, snapshot: IdentitySnapshot) -> None:
        new = set(snapshot.revoked) - self._known
        self._known = frozenset(snapshot.revoked)
        users = set()
        for serial in new:
            record = self._identities.certificate(serial)
            if record is not None:
                users.add(record.user)
        for user in sorted(users):
            self._counters.inc("cluster_revocations_shared")
            self._publish(user)

    def apply(self, user: str, node: str, now: datetime) -> None:
        """Another node revoked ``user``: revoke its certificates in this node's store too."""
        try:
            revoked = self._identities.revoke(user, now)
        except PkiError as exc:  # a user this node's store does not know: nothing to cut off here
            self._counters.inc("cluster_revocations_unknown")
            log.info("cluster: %s revoked %r, unknown here: %s", node, user, exc)
            return
        self._known |= {record.serial for record in revoked}  # not news to send back
        self._counters.inc("cluster_revocations_applied")
        log.warning("cluster: %s revoked %r: %d certificate(s) revoked here", node, user, len(revoked))

"""The one identity watch of a server process: what changed in the identity store, and the CRL.

The admin commands change the store from another process while the server runs. The watch
reads the store's revision (one integer) each time it is asked to :meth:`IdentityWatch.refresh`;
only when that changed does it read users and revocations again, as one
:class:`~rallypoint.pki.identities.IdentitySnapshot`, and hand it to every subscriber (the TLS
streaming port cuts off revoked, disabled and removed identities and applies group changes;
the web port ends the sessions of those). Subscribers get the snapshot and need not read the
store themselves, so one reader serves every listener.

The watch also keeps the CRL that the TLS ports (streaming and API) check handshakes against:
re-signed when the set of revoked serials changed, and every :data:`CRL_RESIGN_S` anyway (it
expires after a week; OpenSSL then refuses every client), and its listeners told. Subscribers
are told first: if writing the CRL fails, the store still refuses revoked certificates at
their next handshake.

Time is passed in (``now``), so tests drive it without sleeping; the server's task calls
:meth:`~IdentityWatch.refresh` every :data:`REVISION_POLL_S`.
"""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from rallypoint.pki.authority import CertificateAuthority
from rallypoint.pki.identities import IdentitySnapshot, IdentityStore

REVISION_POLL_S = 0.25
"""How often the server refreshes the watch: a revocation closes a connection within this."""

CRL_RESIGN_S = 24 * 3600.0
"""The CRL is re-signed this often even without changes (it is valid for a week)."""

Subscriber = Callable[[IdentitySnapshot], None]
"""Told each new snapshot; must not block (it runs on the event loop)."""

CrlListener = Callable[[], None]
"""Told that ``crl.pem`` was rewritten (new handshakes should use it)."""


class IdentityWatch:
    """Polls one identity store; tells subscribers what changed and keeps the CRL current."""

    def __init__(self, store: IdentityStore, authority: CertificateAuthority | None, now: datetime) -> None:
        """Read the store once and, with a CA, sign the CRL (PkiError if either fails)."""
        self.store = store
        self.authority = authority
        self.snapshot = store.snapshot()
        self._subscribers: list[Subscriber] = []
        self._crl_listeners: list[CrlListener] = []
        self._crl_revoked: frozenset[int] | None = None
        self._crl_signed = now
        if authority is not None:
            self._sign_crl(now)

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Call ``subscriber`` with every new snapshot; returns what unsubscribes it."""
        self._subscribers.append(subscriber)
        return _remover(self._subscribers, subscriber)

    def on_crl(self, listener: CrlListener) -> Callable[[], None]:
        """Call ``listener`` whenever the CRL was rewritten; returns what unsubscribes it."""
        self._crl_listeners.append(listener)
        return _remover(self._crl_listeners, listener)

    def refresh(self, now: datetime) -> bool:
        """Apply what changed in the store since the last call; True if something did.

        Cheap when nothing changed: one read of the revision. PkiError when the store or the
        CRL cannot be written or read; the next call tries again.
        """
        changed = self.store.revision() != self.snapshot.revision
        if changed:
            snapshot = self.store.snapshot()
            for subscriber in list(self._subscribers):
                subscriber(snapshot)
            self.snapshot = snapshot  # after every subscriber had it: one that failed gets it again
        stale = now - self._crl_signed > timedelta(seconds=CRL_RESIGN_S)
        revoked = frozenset(self.snapshot.revoked)
        if self.authority is not None and (revoked != self._crl_revoked or stale):
            self._sign_crl(now)
        return changed

    def _sign_crl(self, now: datetime) -> None:
        assert self.authority is not None
        self.authority.write_crl(self.snapshot.revoked.items(), now)
        self._crl_revoked = frozenset(self.snapshot.revoked)
        self._crl_signed = now
        for listener in list(self._crl_listeners):
            listener()


def _remover(items: list[Any], item: object) -> Callable[[], None]:
    """What takes ``item`` out of ``items`` (once; later calls do nothing)."""

    def remove() -> None:
        if item in items:
            items.remove(item)

    return remove

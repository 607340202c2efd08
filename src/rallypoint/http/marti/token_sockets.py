"""The WebSockets a bearer token opened (``/takproto/1`` on the plain API port), and when each
must end.

A request with a token is checked at that request; a socket lives on after its upgrade, so
something has to end it when its token would no longer be accepted: when the token expires,
when its user is removed, disabled or given other groups, or when a certificate of the user
is revoked (the administrator's way of cutting a person off). Two duties of the server check
that, as for the sockets a certificate opened on 8443: the identity watch hands every change
of the identity store to :meth:`TokenSockets.recheck`, and the server's one timer calls
:meth:`TokenSockets.tick` with the time, which ends the expired ones and says when the next
expires. No I/O here: ending a socket is the ``lost`` callback its handler gave.
"""

from collections.abc import Callable
from dataclasses import dataclass

from rallypoint.http.common.deps import Caller
from rallypoint.pki.identities import IdentitySnapshot

MAX_TOKEN_SOCKETS = 4096
"""Token sockets watched at once: as many as the API port serves connections, with room."""


@dataclass(frozen=True)
class _Watched:
    caller: Caller
    expires_ms: int
    revoked: frozenset[int]
    """The user's certificates already revoked at the upgrade."""
    lost: Callable[[], None]


class TokenSockets:
    """Open token sockets, each with what it was let in as."""

    def __init__(self, revoked_of: Callable[[str], frozenset[int]]) -> None:
        self._revoked_of = revoked_of
        """The serials of a user's revoked certificates (read from the identity store)."""
        self._open: dict[int, _Watched] = {}
        self._next_key = 0

    def __len__(self) -> int:
        return len(self._open)

    def watch(self, caller: Caller, expires_ms: int, lost: Callable[[], None]) -> Callable[[], None]:
        """Call ``lost`` (once) when the socket of ``caller`` must end; returns what unwatches it.

        Past :data:`MAX_TOKEN_SOCKETS` the socket is ended at once."""
        if len(self._open) >= MAX_TOKEN_SOCKETS or caller.name is None:
            lost()
            return lambda: None
        key, self._next_key = self._next_key, self._next_key + 1
        self._open[key] = _Watched(caller, expires_ms, self._revoked_of(caller.name), lost)

        def unwatch() -> None:
            self._open.pop(key, None)

        return unwatch

    def recheck(self, snapshot: IdentitySnapshot) -> None:
        """The identity store changed: end each socket whose user no longer holds as it did."""
        for key, watched in list(self._open.items()):
            name = watched.caller.name
            assert name is not None
            user = snapshot.user(name)
            if (
                user is None
                or user.disabled
                or user.groups != watched.caller.groups
                or not self._revoked_of(name) <= watched.revoked
            ):
                self._end(key)

    def tick(self, now_ms: int) -> int | None:
        """End the sockets whose token expired by ``now_ms``; the next expiry (None: no socket)."""
        for key, watched in list(self._open.items()):
            if watched.expires_ms <= now_ms:
                self._end(key)
        return min((watched.expires_ms for watched in self._open.values()), default=None)

    def _end(self, key: int) -> None:
        watched = self._open.pop(key, None)
        if watched is not None:
            watched.lost()

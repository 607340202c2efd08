"""What a server component (missions, fusion feeds, the web live feed) gets from the server.

Components live in layers below ``server``, so they never see a socket or a connection: the
server hands each one a :class:`Host` and drives it through the :class:`Component` calls.
Everything on the host runs on the server's event loop and must not block.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from rallypoint.config import Settings
from rallypoint.cot.event import Event
from rallypoint.router.notices import JournalNotices
from rallypoint.router.router import Router
from rallypoint.router.stats import Counters
from rallypoint.store.base import Store

Inject = Callable[[Event, frozenset[str], str | None], int]
"""Route ``event`` as if ``identity`` (None: the server itself) had sent it into ``groups``;
return how many connected clients it was handed to. Directed events (``marti/dest``) follow
the usual rules, limited to ``groups``."""

SendTo = Callable[[str, Event], bool]
"""Send ``event`` to the one client whose device uid is given. True if it was handed to a
connection now; False if the client is offline and the event was kept in its durable mailbox
(store-and-forward), to be delivered in order when the client binds that uid again."""


@dataclass(frozen=True)
class Host:
    """The running server as a component sees it."""

    router: Router
    counters: Counters
    settings: Settings
    now_ms: Callable[[], int]
    """Wall-clock milliseconds since the epoch."""
    store: Callable[[], Store | None]
    """The open store, or None while it is closed (or when the server keeps none)."""
    inject: Inject
    send_to: SendTo
    notices: JournalNotices = field(default_factory=JournalNotices)
    """News of journal entries appended by other nodes, and of ours for them (cluster mode)."""


class Component(Protocol):
    """A part of the server with a life of its own: started after the store is open and the
    listeners are up, ticked by the server's timer when it says it is next due, stopped before
    the store closes."""

    async def start(self) -> None:
        """Load state (e.g. replay a journal), register router observers, start owned tasks."""

    def tick(self, now_ms: int) -> int | None:
        """Periodic work (re-sends, deadlines); quick, never blocks. Returns the wall-clock time
        (ms) at which the component next wants ticking, or None for the server's usual interval."""

    async def stop(self) -> None:
        """End owned tasks; state is already durable."""

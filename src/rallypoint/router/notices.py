"""News that a shared journal changed, told between the nodes of a cluster.

In cluster mode the store's journal (PostgreSQL) is the one order of mission changes and
identity changes; each node keeps a replica of the state in memory (the mission book) or in
its own file (the identity store) and applies the journal's entries in id order. A node that
appended an entry says so here; the cluster bus carries the news (one small message naming the
journal's stream prefix), and the other nodes' components read the entries they have not yet
applied. The news is only a wake-up: the entries themselves are read from the store, so a
notice lost while NATS was away costs latency (the next catch-up reads them), never an entry.

In the embedded default nothing relays: :attr:`JournalNotices.shared` is False and the
components skip the catch-up reads, since this process writes every entry itself.
"""

from collections.abc import Awaitable, Callable

Listener = Callable[[], Awaitable[None]]
"""Told that entries of one journal prefix were appended on another node. The bus awaits it
before it hands on what followed the notice in the stream (a notification the same change
sent to a device here), so a device told of a change reads the changed state from this node."""


class JournalNotices:
    """Journal prefixes changed here (sent to the other nodes) and there (told to listeners)."""

    def __init__(self) -> None:
        self.relay: Callable[[str], None] | None = None
        """Set by the cluster bus: sends the news that ``prefix`` changed to the other nodes."""
        self._listeners: dict[str, list[Listener]] = {}

    @property
    def shared(self) -> bool:
        """Other nodes write the same journal (cluster mode)."""
        return self.relay is not None

    def changed(self, prefix: str) -> None:
        """This node appended an entry whose stream starts with ``prefix``."""
        if self.relay is not None:
            self.relay(prefix)

    def subscribe(self, prefix: str, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` whenever another node says ``prefix`` changed; returns the undo."""
        listeners = self._listeners.setdefault(prefix, [])
        listeners.append(listener)
        return lambda: listeners.remove(listener) if listener in listeners else None

    async def received(self, prefix: str) -> None:
        """Another node appended to ``prefix``: let its listeners catch up, one after the other."""
        for listener in list(self._listeners.get(prefix, ())):
            await listener()

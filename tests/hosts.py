"""A component's :class:`~rallypoint.router.host.Host` for tests without a server: a real router,
an in-memory store, the clock the test moves, and a ``send_to`` that records what it was given."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

from rallypoint.config import Settings
from rallypoint.cot.event import Event
from rallypoint.router.host import Host
from rallypoint.router.router import Router
from tests.memory_store import MemoryStore


def recording_host(
    tmp_path: Path, router: Router, store: MemoryStore, now_ms: Callable[[], int], **settings: Any
) -> tuple[Host, list[tuple[str, Event]]]:
    """The host, and the list ``send_to`` appends each (device uid, event) to; nothing is kept
    for offline devices (``send_to`` answers False)."""
    sent: list[tuple[str, Event]] = []

    def send_to(uid: str, event: Event) -> bool:
        sent.append((uid, event))
        return False

    host = Host(
        router=router,
        counters=router.counters,
        settings=Settings(data_dir=tmp_path, **settings),
        now_ms=now_ms,
        store=lambda: store,  # type: ignore[arg-type,return-value]
        inject=lambda event, groups, identity: 0,
        send_to=send_to,
    )
    return host, sent

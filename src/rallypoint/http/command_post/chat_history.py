"""Recent GeoChat for a page's first snapshot, so a reload or a server restart keeps the chat.

Read from the event store exactly as the replay reads it: chat routed into one of the user's
groups, or directed to (or sent by) the user. The most recent :data:`MAX_CHAT_HISTORY` messages
of the last :data:`CHAT_HISTORY_WINDOW_MS` are sent. The store returns the oldest first under its
limit, so when a window holds more than :data:`MAX_CHAT_ROWS` rows, a shorter window (ending
now) is read instead: a busy day still yields its latest messages, in a bounded number of reads.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable

from rallypoint.cot import types
from rallypoint.cot.xml import XmlLimits, parse_event
from rallypoint.errors import ProtocolError, StoreError
from rallypoint.http.command_post.auth import Session
from rallypoint.http.command_post.chat import ChatMessage, chat_json
from rallypoint.store.base import EventQuery, EventStore, StoredEvent

log = logging.getLogger(__name__)

MAX_CHAT_HISTORY = 200
"""Messages a page gets in its snapshot: a shift's conversation, not the incident's archive
(the replay has the rest)."""
CHAT_HISTORY_WINDOW_MS = 24 * 3600 * 1000
"""How far back the snapshot's chat reaches: a chat's own validity (``CHAT_STALE_MS``)."""
MAX_CHAT_ROWS = 2000
"""Stored rows read per window (receipts and delivery answers included)."""
WINDOW_DIVISORS = (1, 8, 64, 512)
"""The windows tried, as fractions of :data:`CHAT_HISTORY_WINDOW_MS`: 24 h, 3 h, 22 min, 3 min."""
HISTORY_TIMEOUT_S = 3.0
"""A page waits at most this for its chat history (a failing store): then it opens without."""

ChatHistory = Callable[[Session], Awaitable[list[ChatMessage]]]
"""The recent chat a session's page may read (what the live socket puts in its snapshot)."""


def chat_history(
    store: Callable[[], EventStore | None], now_ms: Callable[[], int], limits: XmlLimits
) -> ChatHistory:
    """Read the recent chat from ``store`` (after what it has queued is committed, so a message
    sent just before a reload is there); nothing, logged, when the store fails or is slow."""

    async def history(session: Session) -> list[ChatMessage]:
        events = store()
        if events is None:
            return []
        try:
            async with asyncio.timeout(HISTORY_TIMEOUT_S):
                await events.flush()
                return await recent_chat(events, session.groups, session.user, now_ms(), limits)
        except (StoreError, TimeoutError) as exc:
            log.warning("web: no chat history for %s's page: %s", session.user, exc or "timed out")
            return []

    return history


async def recent_chat(
    store: EventStore, groups: frozenset[str], reader: str, now_ms: int, limits: XmlLimits
) -> list[ChatMessage]:
    """The latest chat ``reader`` (with ``groups``) may read, oldest first."""
    rows: list[StoredEvent] = []
    for divisor in WINDOW_DIVISORS:
        query = EventQuery(
            start=now_ms - CHAT_HISTORY_WINDOW_MS // divisor,
            end=now_ms,
            type_prefix=types.CHAT,
            groups=groups,
            reader=reader,
            limit=MAX_CHAT_ROWS,
        )
        rows = await store.query_events(query)
        if len(rows) < MAX_CHAT_ROWS:
            break
    messages = [_message(stored, reader, limits) for stored in rows]
    return [message for message in messages if message is not None][-MAX_CHAT_HISTORY:]


def _message(stored: StoredEvent, reader: str, limits: XmlLimits) -> ChatMessage | None:
    if stored.type != types.CHAT:
        return None  # receipts (b-t-f-d, b-t-f-r, …) share the prefix
    if stored.recipients and reader not in stored.recipients and stored.sender != reader:
        return None  # a direct message between others of the same group: not this page's to show
    try:
        return chat_json(parse_event(stored.xml, limits))
    except ProtocolError:
        return None

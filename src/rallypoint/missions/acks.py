"""Answers from the field: a device acknowledging, starting or finishing an objective over CoT.

Two forms are recognised in routed traffic (the third, REST, is an API call):

* **CoT reply**: any event whose detail carries ``<__objective id="<objective id>"
  state="acknowledged|in_progress|done"/>`` (a plugin or pytak script re-sends the marker it
  received with the new state).
* **GeoChat**: a chat whose text contains ``ACK OBJ-1A2B3C4D``, ``START OBJ-…`` or
  ``DONE OBJ-…`` (case-insensitive; the short id is on the marker's label and remarks).
"""

import re
from typing import NamedTuple

from rallypoint.cot import types
from rallypoint.cot.event import Event
from rallypoint.cot.xml import XmlLimits, detail_tree
from rallypoint.errors import ProtocolError
from rallypoint.missions.objectives import ACKNOWLEDGED, DONE, IN_PROGRESS

OBJECTIVE_TAG = "__objective"
CHAT_VERBS = {"ACK": ACKNOWLEDGED, "START": IN_PROGRESS, "DONE": DONE}
REPLY_STATES = frozenset(CHAT_VERBS.values())
_CHAT_ANSWER = re.compile(r"\b(ACK|START|DONE)\s+(OBJ-[0-9A-F]{8})\b", re.IGNORECASE)


class Answer(NamedTuple):
    """A recognised answer: which objective (full id or short ``OBJ-…`` id) and the new state."""

    objective: str
    short: bool
    """True when ``objective`` is a short id typed in a chat."""
    state: str


def find_answer(event: Event, limits: XmlLimits) -> Answer | None:
    """The answer ``event`` carries, if any (cheap substring checks first: this runs per event)."""
    detail = event.detail
    if detail is None:
        return None
    if types.is_chat(event.type):
        if event.type != types.CHAT or "OBJ-" not in detail.xml.upper():
            return None
        return _chat_answer(_remarks(event, limits))
    if OBJECTIVE_TAG not in detail.xml:
        return None
    try:
        element = detail_tree(detail, limits).find(OBJECTIVE_TAG)
    except ProtocolError:
        return None
    if element is None:
        return None
    objective_id, state = element.get("id"), element.get("state")
    if not objective_id or state not in REPLY_STATES:
        return None
    return Answer(objective_id, False, state)


def _remarks(event: Event, limits: XmlLimits) -> str:
    assert event.detail is not None
    try:
        element = detail_tree(event.detail, limits).find("remarks")
    except ProtocolError:
        return ""
    return "" if element is None else "".join(str(text) for text in element.itertext())


def _chat_answer(text: str) -> Answer | None:
    match = _CHAT_ANSWER.search(text)
    if match is None:
        return None
    return Answer(match.group(2).upper(), True, CHAT_VERBS[match.group(1).upper()])


__all__ = ["Answer", "find_answer"]

"""What roll calls learn from routed traffic: positions of the devices asked, and check-ins.

A router observer (on the routing path: quick, never raises) takes from traffic:

* position reports of the devices being asked (the "no position for N minutes" alarm);
* a **GeoChat** check-in: ``PAR`` or ``OK``, or the roll call's code, typed in reply to the
  server's request (:func:`~rallypoint.missions.rollcall.find_answer`);
* a **CoT reply**, the way objectives are answered: any event whose detail carries
  ``<__rollcall id="<roll call id>" state="answered"/>`` (or ``code="PAR-…"`` instead of the
  id), the tag the request carries with ``state="requested"``, sent back by a plugin or a
  pytak script with the new state.

Answers are queued to the service's job, which journals them off the routing path. An answer
counts only for the device it came from (the connection's bound uid, never a uid the event
names) and only for a roll call that asked that device.
"""

from collections.abc import Awaitable, Callable

from rallypoint.cot import types
from rallypoint.cot.event import Detail
from rallypoint.cot.xml import XmlLimits, detail_tree
from rallypoint.errors import ProtocolError
from rallypoint.missions import rollcall as model
from rallypoint.missions.rollcall import RollCall, RollCallBook
from rallypoint.router.host import Host
from rallypoint.router.jobs import Job
from rallypoint.router.message import Outbound
from rallypoint.router.registry import Subscriber

POSITION_PREFIX = "a-"
COT_REPLY_TEXT = "CoT reply"
"""The answer kept for a CoT reply that carries no ``text`` of its own."""

Answered = Callable[[str, frozenset[str], str | None, str], Awaitable[None]]
"""Journals one check-in: (device uid, its groups, the code's six hex digits or None, text)."""


class RollCallWatch:
    """The roll calls' router observer (see the module docstring)."""

    def __init__(
        self, host: Host, book: RollCallBook, enqueue: Callable[[Job], bool], answered: Answered
    ) -> None:
        self.host = host
        self.book = book
        self._enqueue = enqueue
        self._answered = answered
        self.positions: dict[str, int] = {}
        """Last position report (ms, our clock) of every device an open roll call asks."""
        self.asked: frozenset[str] = frozenset()
        """Every device an open roll call asks: the observer's one cheap test."""
        settings = host.settings
        self._limits = XmlLimits(settings.max_event_bytes, settings.max_xml_depth)

    def refresh(self) -> None:
        """The open roll calls changed: who is asked now."""
        self.asked = frozenset(uid for r in self.book.open() for uid in r.members)
        self.positions = {uid: t for uid, t in self.positions.items() if uid in self.asked}

    def observe(self, message: Outbound, subscriber: Subscriber) -> None:
        event = message.event
        uid = subscriber.uid
        asked = uid is not None and uid in self.asked
        if asked and event.type.startswith(POSITION_PREFIX) and event.uid == uid:
            self.positions[event.uid] = self.host.now_ms()  # our clock: a device's may be off
        detail = event.detail
        if detail is None:
            return
        if model.REPLY_TAG in detail.xml:
            self._cot_reply(detail, subscriber, asked)
        elif event.type == types.CHAT and (asked or model.CODE_PREFIX in detail.xml.upper()):
            self._chat(detail, subscriber, asked)  # codes from devices not asked are counted

    def _chat(self, detail: Detail, subscriber: Subscriber, asked: bool) -> None:
        text = self._remarks(detail)
        found = model.find_answer(text)
        if found is None:
            return
        code = found if isinstance(found, str) else None
        if not asked:
            if code is not None:  # a code from a device no open roll call asks: not its to answer
                self.host.counters.inc("rollcall_answer_refused")
            return
        self._queue(subscriber, code, text)

    def _cot_reply(self, detail: Detail, subscriber: Subscriber, asked: bool) -> None:
        try:
            element = detail_tree(detail, self._limits).find(model.REPLY_TAG)
        except ProtocolError:
            return
        if element is None or element.get("state") != model.REPLY_STATE:
            return  # the request itself (``requested``), or not ours
        rollcall = self._named(element.get("id"), element.get("code"))
        if rollcall is None or not asked:
            self.host.counters.inc("rollcall_answer_refused")
            return
        code = rollcall.code.removeprefix(model.CODE_PREFIX)
        self._queue(subscriber, code, element.get("text") or COT_REPLY_TEXT)

    def _named(self, rollcall_id: str | None, code: str | None) -> RollCall | None:
        if rollcall_id:
            return self.book.rollcalls.get(rollcall_id)
        if code and code.upper().startswith(model.CODE_PREFIX):
            return self.book.by_code(code.upper().removeprefix(model.CODE_PREFIX))
        return None

    def _queue(self, subscriber: Subscriber, code: str | None, text: str) -> None:
        uid, groups = subscriber.uid, subscriber.in_groups
        assert uid is not None  # asked devices are bound
        if not self._enqueue(lambda: self._answered(uid, groups, code, text)):
            self.host.counters.inc("rollcall_answers_dropped")

    def _remarks(self, detail: Detail) -> str:
        try:
            element = detail_tree(detail, self._limits).find("remarks")
        except ProtocolError:
            return ""
        return "" if element is None else "".join(str(text) for text in element.itertext())


__all__ = ["RollCallWatch"]

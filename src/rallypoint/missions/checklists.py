"""Checklists in the spirit of TAK's ExCheck: a template's items, started as an instance on a mission.

A template is a titled list of items. Starting it makes an instance whose items each carry a
status (``pending``, ``done``, ``skipped``) and who set it when. Values are frozen; every
change returns a new value, so the journal replay and the live path share the same code.
"""

from dataclasses import dataclass, replace
from typing import Any

from rallypoint.errors import InvalidMissionRequest, MissionNotFound

PENDING = "pending"
DONE = "done"
SKIPPED = "skipped"
ITEM_STATUSES = (PENDING, DONE, SKIPPED)
MAX_ITEMS = 200
MAX_ITEM_CHARS = 500
MAX_NAME_CHARS = 200


@dataclass(frozen=True)
class Item:
    """One line of a checklist."""

    id: str
    text: str
    status: str = PENDING
    by: str | None = None
    time: int | None = None


@dataclass(frozen=True)
class Checklist:
    """A template (``template`` is None) or an instance started from one."""

    id: str
    mission: str
    """The mission's guid."""
    name: str
    items: tuple[Item, ...]
    creator: str
    created: int
    template: str | None = None
    """For an instance: the id of the template it was started from."""

    @property
    def is_template(self) -> bool:
        return self.template is None

    @property
    def complete(self) -> bool:
        """Every item done or skipped."""
        return all(item.status != PENDING for item in self.items)


def check_template(body: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    """``{"name": str, "items": [str, ...]}`` validated."""
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME_CHARS:
        raise InvalidMissionRequest(f"name must be a non-empty string of at most {MAX_NAME_CHARS}")
    items = body.get("items")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_ITEMS:
        raise InvalidMissionRequest(f"items must be a list of 1 to {MAX_ITEMS} strings")
    if not all(isinstance(text, str) and text.strip() and len(text) <= MAX_ITEM_CHARS for text in items):
        raise InvalidMissionRequest(f"each item must be a non-empty string of at most {MAX_ITEM_CHARS}")
    return name.strip(), tuple(text.strip() for text in items)


def new_template(
    checklist_id: str, mission: str, name: str, texts: tuple[str, ...], *, author: str, now: int
) -> Checklist:
    """A template whose items are numbered ``1``, ``2`` …"""
    items = tuple(Item(str(number), text) for number, text in enumerate(texts, 1))
    return Checklist(checklist_id, mission, name, items, author, now)


def start(template: Checklist, checklist_id: str, name: str | None, author: str, now: int) -> Checklist:
    """An instance of ``template`` with every item pending."""
    items = tuple(Item(item.id, item.text) for item in template.items)
    return Checklist(checklist_id, template.mission, name or template.name, items, author, now, template.id)


def set_item(checklist: Checklist, item_id: str, status: str, author: str, now: int) -> Checklist:
    """Set one item's status, recording who did it and when."""
    if checklist.is_template:
        raise InvalidMissionRequest("a template's items have no status; start it first")
    if status not in ITEM_STATUSES:
        raise InvalidMissionRequest(f"status must be one of {', '.join(ITEM_STATUSES)}")
    if not any(item.id == item_id for item in checklist.items):
        raise MissionNotFound(f"checklist {checklist.name!r} has no item {item_id!r}")
    items = tuple(
        replace(item, status=status, by=author, time=now) if item.id == item_id else item
        for item in checklist.items
    )
    return replace(checklist, items=items)


def checklist_json(checklist: Checklist) -> dict[str, Any]:
    """The web API's (and the live feed's) view of a checklist."""
    return {
        "id": checklist.id,
        "name": checklist.name,
        "template": checklist.template,
        "isTemplate": checklist.is_template,
        "complete": checklist.complete,
        "creator": checklist.creator,
        "created": checklist.created,
        "items": [
            {"id": item.id, "text": item.text, "status": item.status, "by": item.by, "time": item.time}
            for item in checklist.items
        ],
    }

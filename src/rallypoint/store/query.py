"""SQL conditions shared by both stores; only placeholders and list operators differ.

Every filter of :meth:`rallypoint.store.base.Store.query_events` is done in SQL, so
``LIMIT`` counts matching rows: the type prefix as a range on the binary-collated ``type``
index, the box on ``lat``/``lon``, the groups with the dialect's list operator
(``&&`` on ``TEXT[]`` in PostgreSQL, ``json_each`` on the JSON text in SQLite).
"""

from collections.abc import Callable, Sequence
from typing import Any

from rallypoint.store.base import MailItem, type_upper_bound

MAIL_COLUMNS = "id, recipient, time, xml, sender"
"""The columns of a :class:`MailItem`, in its order."""

Param = Callable[[object], str]
"""Adds a bound value and returns its placeholder (``?`` or ``$n``)."""


class Params:
    """Collects bound values and hands out placeholders in the dialect's style."""

    def __init__(self, numbered: bool) -> None:
        self.values: list[object] = []
        self._numbered = numbered

    def __call__(self, value: object) -> str:
        self.values.append(value)
        return f"${len(self.values)}" if self._numbered else "?"


def event_conditions(
    param: Param,
    *,
    start: int | None,
    end: int | None,
    uid: str | None,
    type_prefix: str | None,
    bbox: tuple[float, float, float, float] | None,
) -> list[str]:
    """``WHERE`` terms for every filter given (groups excepted: see the stores)."""
    terms: list[str] = []
    if start is not None:
        terms.append(f"time >= {param(start)}")
    if end is not None:
        terms.append(f"time <= {param(end)}")
    if uid is not None:
        terms.append(f"uid = {param(uid)}")
    if type_prefix:
        terms.append(f"type >= {param(type_prefix)} AND type < {param(type_upper_bound(type_prefix))}")
    if bbox is not None:
        min_lat, min_lon, max_lat, max_lon = bbox
        terms.append(f"lat BETWEEN {param(min_lat)} AND {param(max_lat)}")
        joiner = "AND" if min_lon <= max_lon else "OR"  # OR: the box crosses the antimeridian
        terms.append(f"(lon >= {param(min_lon)} {joiner} lon <= {param(max_lon)})")
    return terms


def where(terms: Sequence[str]) -> str:
    """`` WHERE a AND b`` or nothing."""
    return f" WHERE {' AND '.join(terms)}" if terms else ""


def mail_item(row: Sequence[Any]) -> MailItem:
    """One row of :data:`MAIL_COLUMNS` (a BLOB or BYTEA becomes bytes)."""
    return MailItem(row[0], row[1], row[2], bytes(row[3]), row[4])

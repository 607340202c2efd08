"""An objective's whole life on a real server, driven by two clients (issue 5).

The command post works over the REST API (mutual TLS); the team is PyPI ``pytak`` on the
TLS streaming port and answers the way the README documents: a CoT reply carrying
``<__objective state=…/>``, then a GeoChat ``START OBJ-…``. Every transition must be in the
objective's history and the mission's change log, with its author and a time inside the
window in which it happened.
"""

import time

import pytest

from tests.integration.test_missions_api import (
    POINT,
    Field,
    create_mission,
    details,
    field,
    of_type,
    tls_settings,
)
from tests.interop.clients import chat_xml, event_xml, eventually, pli_xml
from tests.interop.pytak_tools import pytak_tls_client, pytak_until

__all__ = ["field", "tls_settings"]
"""Fixtures shared with the Data Sync tests (pytest finds them by name in this module)."""

pytestmark = pytest.mark.filterwarnings(
    r"ignore:ssl.OP_NO_SSL\*/ssl.OP_NO_TLS\* options are deprecated:DeprecationWarning"
)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def objective_reply(objective_id: str, state: str) -> bytes:
    """The documented CoT answer: any routable event carrying ``<__objective id state/>``."""
    detail = f'<__objective id="{objective_id}" state="{state}"/>'
    return event_xml(f"{objective_id}.reply", "y-a", detail, how="h-e", stale_s=60)


async def test_designate_assign_acknowledge_start_done(field: Field) -> None:
    assert field.server.ports.tls is not None
    windows: list[tuple[int, int]] = []
    async with pytak_tls_client(
        field.server.ports.tls, field.pki.ca_file, field.alpha.certificate, field.alpha.key
    ) as team:
        await team.tx_queue.put(pli_xml("ALPHA-1", "Alpha"))
        router = field.server.server.context.router
        await eventually(lambda: router.registry.by_uid("ALPHA-1") is not None)
        await create_mission(field.cp)

        start = now_ms()
        body = {"title": "Bridge", "description": "Hold it", "priority": "high", "geometry": POINT}
        response = await field.cp.post("/api/missions/op/objectives", json=body)
        assert response.status_code == 201, response.text
        objective = response.json()
        windows.append((start, now_ms()))

        start = now_ms()
        response = await field.cp.post(
            f"/api/objectives/{objective['id']}/assign", json={"assignee": "Alpha"}
        )
        assert response.status_code == 200, response.text
        windows.append((start, now_ms()))
        marker = (await pytak_until(team, of_type("b-m-p-s-p-i")))[-1]
        remarks = details(marker).findtext("remarks") or ""
        assert f"ACK {objective['shortId']}" in remarks

        start = now_ms()
        await team.tx_queue.put(objective_reply(objective["id"], "acknowledged"))
        await eventually(lambda: state_of(field, objective["id"]) == "acknowledged")
        windows.append((start, now_ms()))

        start = now_ms()
        await team.tx_queue.put(chat_xml("ALPHA-1", "Alpha", f"START {objective['shortId']} moving now"))
        await eventually(lambda: state_of(field, objective["id"]) == "in_progress")
        windows.append((start, now_ms()))

    start = now_ms()
    response = await field.cp.post(f"/api/objectives/{objective['id']}/status", json={"state": "done"})
    assert response.status_code == 200, response.text
    windows.append((start, now_ms()))

    listed = (await field.cp.get("/api/objectives", params={"mission": "op"})).json()
    [final] = [row for row in listed if row["id"] == objective["id"]]
    history = final["history"]
    assert [(step["state"], step["author"]) for step in history] == [
        ("designated", "cp"),
        ("assigned", "cp"),
        ("acknowledged", "ALPHA-1"),
        ("in_progress", "ALPHA-1"),
        ("done", "cp"),
    ]
    for step, (low, high) in zip(history, windows, strict=True):
        assert low <= step["time"] <= high, (step, low, high)
    mission = (await field.cp.get("/api/missions/op")).json()
    logged = [c["summary"] for c in mission["changeLog"] if c["contentUid"] == objective["id"]]
    assert [line.split()[-1] for line in logged] == [
        "designated",
        "assigned",
        "acknowledged",
        "in_progress",
        "done",
    ]


def state_of(field: Field, objective_id: str) -> str:
    service = field.server.server.components[0]
    _, objective = service.book.objective(objective_id)  # type: ignore[attr-defined]
    state: str = objective.state
    return state

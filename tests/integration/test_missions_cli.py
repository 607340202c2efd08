"""``rallypoint mission …`` / ``rallypoint objective …`` against a running server's plain API port."""

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from rallypoint.cli import main
from rallypoint.missions.commands import due_millis, geometry
from rallypoint.server.server import Server
from tests.settings import listening


@pytest.fixture
async def url(tmp_path: Path) -> AsyncIterator[str]:
    settings = listening(tmp_path, api_plain_port=0)
    server = Server(settings)
    ports = await server.start()
    try:
        yield f"http://127.0.0.1:{ports.api_plain}"
    finally:
        await server.stop()


async def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any]:
    """Run the command in a thread (it blocks on HTTP; the server runs on this loop)."""
    status = await asyncio.to_thread(main, list(argv))
    out, err = capsys.readouterr()
    return status, json.loads(out) if status == 0 else err


async def test_walk_through(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, created = await run(capsys, "mission", "create", "op", "--url", url, "--uid", "CP-1")
    assert status == 0
    assert created["creatorUid"] == "CP-1"
    status, _ = await run(capsys, "mission", "subscribe", "op", "--url", url, "--uid", "TEAM-1")
    assert status == 0
    status, objective = await run(
        capsys,
        *("objective", "designate", "op", "--url", url, "--uid", "CP-1"),
        *("--title", "Bridge", "--point", "48.1,11.5", "--due", "2030-01-01T00:00:00Z"),
    )
    assert status == 0
    assert objective["geometry"] == {"type": "Point", "coordinates": [11.5, 48.1]}
    status, assigned = await run(capsys, "objective", "assign", objective["id"], "Team-1", "--url", url)
    assert (status, assigned["state"], assigned["assignee"]) == (0, "assigned", "Team-1")
    status, acked = await run(capsys, "objective", "status", objective["id"], "acknowledged", "--url", url)
    assert (status, acked["state"]) == (0, "acknowledged")
    status, listed = await run(capsys, "mission", "list", "--url", url)
    assert [m["name"] for m in listed] == ["op"]
    status, shown = await run(capsys, "mission", "show", "op", "--url", url)
    assert [o["state"] for o in shown["objectives"]] == ["acknowledged"]
    assert shown["subscribers"] == ["TEAM-1"]


async def test_errors_are_reported(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, err = await run(capsys, "mission", "show", "nowhere", "--url", url)
    assert status == 1
    assert "404" in err
    status, err = await run(
        capsys, "objective", "designate", "op", "--title", "t", "--area", "1,2;3,4", "--url", url
    )
    assert status == 2
    assert "three" in err
    status, err = await run(capsys, "mission", "list", "--url", "http://127.0.0.1:9")
    assert status == 2
    assert "cannot reach" in err


def test_geometry_and_due_parsing() -> None:
    assert geometry(None, "0,0;0,1;1,1") == {
        "type": "Polygon",
        "coordinates": [[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]]],
    }
    assert due_millis("1000") == 1000
    assert due_millis("1970-01-01T00:00:01Z") == 1000
    with pytest.raises(ValueError, match="LAT,LON"):
        geometry("1;2", None)

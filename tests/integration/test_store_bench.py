"""The store benchmark measures committed events, not queued ones."""

import sqlite3
from pathlib import Path

from rallypoint.store.bench import measure_store_rate


async def test_store_rate_counts_committed_events(tmp_path: Path) -> None:
    database = tmp_path / "bench.sqlite3"
    rate = await measure_store_rate(f"sqlite://{database}", 3000)
    assert rate > 0
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT COUNT(*), COUNT(DISTINCT uid) FROM events").fetchone() == (3000, 1000)

"""The store's parts without a database: URL choice, schema steps, the batched writer, the
router's recorder hook and the recorder the server installs."""

import asyncio
from pathlib import Path

import pytest

from rallypoint.config import Settings
from rallypoint.cot.xml import parse_event
from rallypoint.errors import StoreError
from rallypoint.router.message import Outbound
from rallypoint.router.registry import Subscriber
from rallypoint.router.router import Router
from rallypoint.router.stats import Counters
from rallypoint.server.persistence import EventRecorder
from rallypoint.store import StoredEvent, open_store, schema
from rallypoint.store.postgres import PostgresStore
from rallypoint.store.sqlite import SqliteStore
from rallypoint.store.writer import BATCH_MAX_ROWS, BatchWriter
from tests.interop.clients import ping_xml, pli_xml

NOW = 1_700_000_000_000


def stored(number: int) -> StoredEvent:
    return StoredEvent(f"u{number}", "a-f", NOW, NOW + 1, 0.0, 0.0, 0.0, frozenset({"G"}), None, b"<event/>")


def test_open_store_picks_the_implementation_from_the_url(tmp_path: Path) -> None:
    sqlite = open_store(f"sqlite://{tmp_path}/x.db")
    assert isinstance(sqlite, SqliteStore)
    assert sqlite.path == tmp_path / "x.db"
    assert open_store("sqlite:///abs/path.db").path == Path("/abs/path.db")  # type: ignore[attr-defined]
    assert open_store("sqlite:////abs/path.db").path == Path("/abs/path.db")  # type: ignore[attr-defined]
    assert isinstance(open_store("postgresql://user@127.0.0.1:5432/db"), PostgresStore)
    with pytest.raises(StoreError, match="mysql"):
        open_store("mysql://user:secret@host/db")
    with pytest.raises(StoreError, match="names no file"):
        open_store("sqlite:///")


def test_default_store_is_a_sqlite_file_in_the_data_directory(tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path).effective_store_url == f"sqlite://{tmp_path}/rallypoint.sqlite3"
    assert Settings(store_url="postgresql://h/db").effective_store_url == "postgresql://h/db"


def test_migrations_pending_after_a_version() -> None:
    steps = schema.pending(schema.POSTGRES, 0)
    assert [number for number, _ in steps] == list(range(1, schema.LATEST_VERSION + 1))
    assert "BYTEA" in steps[0][1][0]
    assert "TEXT[]" not in schema.pending(schema.SQLITE, 0)[0][1][0]
    assert schema.pending(schema.SQLITE, schema.LATEST_VERSION) == []


async def test_writer_takes_everything_queued_in_batches_of_at_most_the_limit() -> None:
    sizes: list[int] = []

    async def commit(batch: list[StoredEvent]) -> None:
        sizes.append(len(batch))

    writer = BatchWriter(commit, max_queued=10_000)
    writer.start()
    for number in range(2500):
        assert writer.record(stored(number))
    assert writer.lag() == 2500
    await writer.flush()
    assert sizes == [BATCH_MAX_ROWS, BATCH_MAX_ROWS, 500]
    assert writer.lag() == 0
    assert writer.record(stored(0))
    await writer.flush()
    assert sizes[-1] == 1  # an idle writer commits a lone event at once
    await writer.stop()
    assert not writer.record(stored(1))
    assert writer.dropped == 1


async def test_a_failed_commit_is_counted_and_the_writer_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    calls = 0

    async def commit(batch: list[StoredEvent]) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise StoreError("disk full")

    writer = BatchWriter(commit, max_queued=100)
    writer.start()
    writer.record(stored(1))
    await asyncio.wait_for(writer.flush(), 5)
    writer.record(stored(2))
    await asyncio.wait_for(writer.flush(), 5)
    await writer.stop()
    assert (writer.failed, writer.transactions, writer.lag()) == (1, 1, 0)
    assert "disk full" in caplog.text


class FakeStore:
    """Accepts ``room`` events, then refuses."""

    def __init__(self, room: int) -> None:
        self.room = room
        self.events: list[StoredEvent] = []

    def record(self, event: StoredEvent) -> bool:
        if len(self.events) >= self.room:
            return False
        self.events.append(event)
        return True

    def lag(self) -> int:
        return len(self.events)


def test_recorder_stores_what_was_routed_and_counts_drops(caplog: pytest.LogCaptureFixture) -> None:
    store, counters = FakeStore(room=1), Counters()
    recorder = EventRecorder(store, counters)  # type: ignore[arg-type]
    sender = Subscriber(lambda: None, transport="tls", in_groups=("Cyan", "Red"), identity="alice")
    data = pli_xml("dev-1", "Alpha", lat=1.25, lon=2.5)
    message = Outbound(parse_event(data), data)
    recorder(message, sender)
    recorder(message, sender)
    recorder(message, sender)
    (first,) = store.events
    event = message.event
    assert first == StoredEvent(
        "dev-1",
        "a-f-G-U-C",
        event.time,
        event.stale,
        1.25,
        2.5,
        10.0,
        frozenset({"Cyan", "Red"}),
        "alice",
        data,
    )
    assert counters.get("store_dropped") == 2
    assert caplog.text.count("store queue full") == 1  # logged once a minute, counted every time


def test_directed_messages_are_stored_with_no_groups() -> None:
    """History and the start-up rebuild filter by groups: a directed message must match none."""
    store = FakeStore(room=10)
    recorder = EventRecorder(store, Counters())  # type: ignore[arg-type]
    sender = Subscriber(lambda: None, transport="tls", in_groups=("Cyan",), identity="alice")
    data = pli_xml("dev-1", "Alpha")
    recorder(Outbound(parse_event(data), data, directed=True), sender)
    recorder(Outbound(parse_event(data), data), sender)
    assert [event.groups for event in store.events] == [frozenset(), frozenset({"Cyan"})]


def test_router_records_routed_events_only() -> None:
    router = Router()
    recorded: list[tuple[str, int]] = []
    router.recorder = lambda message, sender: recorded.append((message.event.uid, sender.id))
    alice = Subscriber(lambda: None, transport="tls", owner="alice")
    mallory = Subscriber(lambda: None, transport="tls", owner="mallory")
    for subscriber in (alice, mallory):
        router.attach(subscriber, NOW)
    pli = pli_xml("dev-1", "Alpha")
    assert router.submit(alice, parse_event(pli), pli, NOW) == 1
    router.submit(alice, parse_event(ping_xml("dev-1")), None, NOW)  # control: not recorded
    router.submit(mallory, parse_event(pli), pli, NOW)  # refused (uid owned by alice): not recorded
    assert recorded == [("dev-1", alice.id)]

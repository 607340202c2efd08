"""One store suite, run against SQLite and against a real PostgreSQL server.

PostgreSQL: ``RALLYPOINT_TEST_POSTGRES_URL`` (CI sets it, see ``.ci/run``), else a throwaway
cluster started here from the installed binaries; skipped, with the reason shown, only when
neither is possible. Each test gets a fresh database, so migrations run from scratch.
"""

import asyncio
import contextlib
import glob
import os
import pwd
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest

from rallypoint.store import PackageRecord, Store, StoredEvent, open_store, schema
from rallypoint.store.base import EventQuery, InjectorRecord, LostRecord, MailDraft

POSTGRES_URL_ENV = "RALLYPOINT_TEST_POSTGRES_URL"
T0 = 1_700_000_000_000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _postgres_bin() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(versions[-1]).parent if versions else None


@contextlib.contextmanager
def _local_cluster() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on 127.0.0.1 (as user ``postgres`` when we are root).

    Its directory is directly under the system temp dir: pytest's own is private to us,
    and the ``postgres`` user could not reach a directory inside it."""
    with tempfile.TemporaryDirectory(prefix="rallypoint-pg-") as name:
        yield from _cluster_in(Path(name))


def _cluster_in(directory: Path) -> Iterator[str]:
    bindir = _postgres_bin()
    if bindir is None:
        pytest.skip(f"PostgreSQL is not installed and {POSTGRES_URL_ENV} is not set")
    prefix: list[str] = []
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root without a 'postgres' user to run a PostgreSQL cluster")
        prefix = ["runuser", "-u", "postgres", "--"]
        shutil.chown(directory, "postgres")
    data, port = directory / "data", _free_port()
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {directory} -F"

    def run(*command: str) -> None:
        result = subprocess.run([*prefix, *command], capture_output=True, text=True, timeout=60, check=False)
        if result.returncode != 0:
            pytest.skip(f"cannot start a local PostgreSQL ({command[0]}): {result.stderr.strip()[-300:]}")

    run(str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "rallypoint", "--no-sync", "-E", "UTF8")
    run(str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(directory / "log"), "-w", "start")
    try:
        yield f"postgresql://rallypoint@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
            capture_output=True,
            timeout=60,
            check=False,
        )


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL server to create test databases on."""
    url = os.environ.get(POSTGRES_URL_ENV)
    if url:
        yield url
        return
    with _local_cluster() as local:
        yield local


@contextlib.asynccontextmanager
async def _fresh_database(server_url: str) -> AsyncIterator[str]:
    name = f"rallypoint_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield urlsplit(server_url)._replace(path=f"/{name}").geturl()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(params=["sqlite", "postgres"])
async def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of an empty store of each kind."""
    if request.param == "sqlite":
        yield f"sqlite://{tmp_path / 'store.sqlite3'}"
        return
    async with _fresh_database(request.getfixturevalue("postgres_url")) as url:
        yield url


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    """An open store, closed after the test."""
    opened = open_store(store_url)
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


def event(
    uid: str,
    time: int,
    *,
    type: str = "a-f-G-U-C",
    stale: int | None = None,
    lat: float = 50.0,
    lon: float = 5.0,
    groups: frozenset[str] = frozenset({"Cyan"}),
    sender: str | None = "alice",
) -> StoredEvent:
    xml = f'<event version="2.0" uid="{uid}" type="{type}"/>'.encode()
    return StoredEvent(uid, type, time, stale or time + 60_000, lat, lon, 10.0, groups, sender, xml)


async def record_all(store: Store, *events: StoredEvent) -> None:
    for stored in events:
        assert store.record(stored)
    await store.flush()
    assert store.lag() == 0


async def test_record_flush_query_round_trip(store: Store) -> None:
    original = event("u1", T0, groups=frozenset({"Cyan", "Red"}), sender=None)
    await record_all(store, original)
    assert await store.query_events(EventQuery()) == [original]


async def test_query_filters(store: Store) -> None:
    events = [
        event("a", T0, type="a-f-G-U-C", lat=10, lon=10),
        event("b", T0 + 1000, type="a-h-G", lat=20, lon=20, groups=frozenset({"Red"})),
        event("a", T0 + 2000, type="a-f-G-U-C", lat=30, lon=179.5),
        event("c", T0 + 3000, type="b-m-p-s-m", lat=-10, lon=-179.5, groups=frozenset({"Red", "Blue"})),
        event("d", T0 + 4000, type="a-fX", lat=0, lon=0),
    ]
    await record_all(store, *reversed(events))
    assert [e.time for e in await store.query_events(EventQuery())] == [e.time for e in events]  # time order
    assert await store.query_events(EventQuery(start=T0 + 1000, end=T0 + 2000)) == events[1:3]
    assert await store.query_events(EventQuery(uid="a")) == [events[0], events[2]]
    assert await store.query_events(EventQuery(type_prefix="a-f-")) == [events[0], events[2]]
    assert await store.query_events(EventQuery(type_prefix="a-")) == [
        events[0],
        events[1],
        events[2],
        events[4],
    ]
    assert await store.query_events(EventQuery(type_prefix="b-m-p")) == [events[3]]
    assert await store.query_events(EventQuery(bbox=(5, 5, 25, 25))) == events[0:2]
    assert await store.query_events(EventQuery(bbox=(-20, 170, 40, -170))) == [
        events[2],
        events[3],
    ]  # antimeridian
    assert await store.query_events(EventQuery(groups=frozenset({"Red"}))) == [events[1], events[3]]
    assert await store.query_events(EventQuery(groups=frozenset({"Blue", "Green"}))) == [events[3]]
    assert await store.query_events(EventQuery(groups=frozenset())) == []
    assert await store.query_events(EventQuery(limit=2)) == events[:2]
    assert await store.query_events(EventQuery(groups=frozenset({"Red"}), limit=1)) == [
        events[1]
    ]  # limit after filter
    assert await store.query_events(EventQuery(uid="a", type_prefix="a-f", bbox=(25, 170, 35, 180))) == [
        events[2]
    ]


async def test_latest_events_keeps_the_newest_per_uid_unless_stale(store: Store) -> None:
    now = T0 + 10_000
    await record_all(
        store,
        event("pli", T0, stale=now + 60_000),
        event("pli", T0 + 5000, stale=now + 60_000, lat=1.0),
        event("gone", T0, stale=now + 60_000),
        event("gone", T0 + 5000, stale=now - 1),  # newest is stale: the older one must not come back
        event("marker", T0 + 1000, type="b-m-p-s-m", stale=now + 1),
    )
    latest = await store.latest_events(now)
    assert sorted((e.uid, e.time, e.lat) for e in latest) == [
        ("marker", T0 + 1000, 50.0),
        ("pli", T0 + 5000, 1.0),
    ]


async def test_purge_before_removes_older_events(store: Store) -> None:
    await record_all(store, *(event(f"u{i}", T0 + i) for i in range(10)))
    assert await store.purge_before(T0 + 4) == 4
    assert [e.uid for e in await store.query_events(EventQuery())] == [f"u{i}" for i in range(4, 10)]
    assert await store.purge_before(T0) == 0


def package(hash: str, **changes: object) -> PackageRecord:
    record = PackageRecord(
        hash=hash,
        name=f"pkg-{hash}",
        filename=f"{hash}.zip",
        mime_type="application/x-zip-compressed",
        size=1234,
        submitter="alice",
        creator_uid="ANDROID-1",
        groups=frozenset({"Cyan"}),
        keywords=("missionpackage",),
        tool="public",
        submitted=T0,
        uid=f"uid-{hash}",
    )
    return record._replace(**changes)


async def test_packages_put_get_search_and_tool(store: Store) -> None:
    first = package("aa")
    second = package("bb", keywords=("missionpackage", "maps"), groups=frozenset({"Red"}), submitted=T0 + 1)
    third = package("cc", keywords=(), tool="private", submitter=None, creator_uid=None, submitted=T0 + 2)
    for record in (first, second, third):
        await store.put_package(record)
    assert await store.package("aa") == first
    assert await store.package("zz") is None
    assert await store.search_packages() == [third, second, first]  # newest first
    assert await store.search_packages(keywords=["missionpackage"]) == [second, first]
    assert await store.search_packages(keywords=["missionpackage", "maps"]) == [second]
    assert await store.search_packages(tool="public") == [second, first]
    assert await store.search_packages(name="pkg-cc") == [third]
    assert await store.search_packages(groups=frozenset({"Red", "Blue"})) == [second]
    assert await store.set_package_tool("aa", "private")
    assert not await store.set_package_tool("zz", "private")
    assert await store.search_packages(tool="private") == [third, first._replace(tool="private")]
    replaced = first._replace(name="renamed", size=99)
    await store.put_package(replaced)
    assert await store.package("aa") == replaced


async def test_package_records_are_per_submitter(store: Store) -> None:
    alice = package("dd", submitter="alice", groups=frozenset({"Red"}))
    mallory = package("dd", submitter="mallory", groups=frozenset({"Blue"}), name="copy", submitted=T0 + 1)
    anonymous = package("dd", submitter=None, groups=frozenset({"__ANON__"}), submitted=T0 + 2)
    for record in (alice, mallory, anonymous):
        await store.put_package(record)
    assert await store.packages_of("dd") == [anonymous, mallory, alice]
    assert await store.set_package_tool("dd", "private", "mallory")
    assert await store.delete_package("dd", None)
    assert not await store.delete_package("dd", "nobody")
    assert await store.delete_package("dd", "mallory")
    assert await store.packages_of("dd") == [alice]  # the other submitters' edits never touched it


async def test_many_records_commit_in_few_transactions(store: Store) -> None:
    writer = store.writer  # type: ignore[attr-defined]
    before = writer.transactions
    await record_all(store, *(event(f"u{i}", T0 + i) for i in range(5000)))
    assert 5 <= writer.transactions - before <= 10  # batches of up to 1000 rows
    assert len(await store.query_events(EventQuery(limit=10_000))) == 5000


async def test_full_queue_refuses_and_counts(store_url: str) -> None:
    store = open_store(store_url, queue_max=10)
    await store.open()
    try:
        assert all(store.record(event(f"u{i}", T0 + i)) for i in range(10))  # no await: nothing drained
        assert not store.record(event("late", T0 + 99))
        assert store.writer.dropped == 1  # type: ignore[attr-defined]
        assert store.lag() == 10
        await store.flush()
        assert store.lag() == 0
        assert len(await store.query_events(EventQuery())) == 10
    finally:
        await store.close()


async def test_close_commits_the_queue_and_reopen_keeps_history(store_url: str) -> None:
    store = open_store(store_url)
    await store.open()
    assert store.record(event("kept", T0))
    await store.close()
    assert not store.record(event("after-close", T0))
    reopened = open_store(store_url)
    await reopened.open()  # migrations already applied: nothing to do
    try:
        assert [e.uid for e in await reopened.query_events(EventQuery())] == ["kept"]
    finally:
        await reopened.close()


async def test_records_while_a_batch_commits_are_not_lost(store: Store) -> None:
    async def producer(offset: int) -> None:
        for i in range(500):
            assert store.record(event(f"p{offset}", T0 + offset * 1000 + i))
            if i % 50 == 0:
                await asyncio.sleep(0)

    await asyncio.gather(*(producer(n) for n in range(4)))
    await store.flush()
    assert len(await store.query_events(EventQuery(limit=5000))) == 2000


async def test_directed_events_are_visible_to_their_sender_and_recipients_only(store: Store) -> None:
    directed = event("chat", T0, groups=frozenset(), sender="alice")._replace(
        recipients=frozenset({"bob", "carol"})
    )
    broadcast = event("pli", T0 + 1, groups=frozenset({"Cyan"}), sender="dave")
    await record_all(store, directed, broadcast)
    cyan = frozenset({"Cyan"})
    assert await store.query_events(EventQuery()) == [directed, broadcast]
    assert await store.query_events(EventQuery(groups=cyan)) == [broadcast]  # the group does not see it
    for reader in ("alice", "bob", "carol"):
        assert await store.query_events(EventQuery(groups=cyan, reader=reader)) == [directed, broadcast]
    assert await store.query_events(EventQuery(groups=cyan, reader="mallory")) == [broadcast]
    assert await store.query_events(EventQuery(groups=frozenset(), reader="bob")) == [directed]


async def test_journal_appends_in_order_and_reads_back_by_prefix(store: Store) -> None:
    ids = [
        await store.append_journal("mission:a", T0, "alice", '{"n": 1}'),
        await store.append_journal("mission:b", T0 + 1, None, '{"n": 2}'),
        await store.append_journal("objective:x", T0 + 2, "bob", '{"n": 3}'),
        await store.append_journal("mission:a", T0 + 3, "carol", '{"n": 4}'),
    ]
    assert ids == sorted(ids)
    assert len(set(ids)) == 4
    missions = await store.read_journal("mission:")
    assert [(e.stream, e.author, e.body) for e in missions] == [
        ("mission:a", "alice", '{"n": 1}'),
        ("mission:b", None, '{"n": 2}'),
        ("mission:a", "carol", '{"n": 4}'),
    ]
    assert [e.id for e in await store.read_journal("mission:a")] == [ids[0], ids[3]]
    assert [e.id for e in await store.read_journal("", after_id=ids[1])] == ids[2:]
    assert [e.id for e in await store.read_journal("", limit=2)] == ids[:2]
    assert (await store.read_journal("objective:"))[0].time == T0 + 2


async def test_mail_is_kept_per_recipient_until_delivered(store: Store) -> None:
    first = await store.put_mail("ANDROID-1", T0, b"<event uid='1'/>")
    await store.put_mail("ANDROID-2", T0, b"<event uid='x'/>")
    second = await store.put_mail("ANDROID-1", T0 + 1, b"<event uid='2'/>")
    waiting = await store.mail_for("ANDROID-1")
    assert [(m.id, m.xml) for m in waiting] == [(first, b"<event uid='1'/>"), (second, b"<event uid='2'/>")]
    assert (await store.mail_count("ANDROID-1"), await store.mail_count("ANDROID-2")) == (2, 1)
    await store.mark_delivered([first], T0 + 5)
    assert [m.id for m in await store.mail_for("ANDROID-1")] == [second]
    assert await store.mail_count("ANDROID-1") == 1
    await store.mark_delivered([second], T0 + 6)
    assert await store.mail_for("ANDROID-1") == []
    assert len(await store.mail_for("ANDROID-2")) == 1


async def test_mail_bytes_and_sender_are_kept_until_delivered(store: Store) -> None:
    await store.put_mail_many(
        [
            MailDraft("ANDROID-1", T0, b"<event uid='a'/>", "ANDROID-9"),
            MailDraft("ANDROID-1", T0 + 1, b"<event uid='bb'/>"),
            MailDraft("ANDROID-2", T0, b"<event uid='c'/>", "ANDROID-9"),
        ]
    )
    assert await store.mail_bytes("ANDROID-1") == len(b"<event uid='a'/>") + len(b"<event uid='bb'/>")
    assert await store.mail_bytes("NOBODY") == 0
    waiting = await store.mail_for("ANDROID-1")
    assert [m.sender for m in waiting] == ["ANDROID-9", None]
    await store.mark_delivered([waiting[0].id], T0 + 5)
    assert await store.mail_bytes("ANDROID-1") == len(b"<event uid='bb'/>")


async def test_expire_mail_removes_the_oldest_undelivered_first_in_batches(store: Store) -> None:
    drafts = [MailDraft("ANDROID-1", T0 + n, f"<event uid='{n}'/>".encode(), "ANDROID-9") for n in range(5)]
    drafts.append(MailDraft("ANDROID-2", T0 + 2, b"<event uid='other'/>"))
    drafts.append(MailDraft("ANDROID-2", T0 + 10, b"<event uid='young'/>"))
    await store.put_mail_many(drafts)
    delivered = (await store.mail_for("ANDROID-1"))[0]
    await store.mark_delivered([delivered.id], T0 + 1)

    first = await store.expire_mail(T0 + 4, limit=2)
    assert [(m.recipient, m.time, m.sender) for m in first] == [
        ("ANDROID-1", T0 + 1, "ANDROID-9"),
        ("ANDROID-1", T0 + 2, "ANDROID-9"),
    ]
    second = await store.expire_mail(T0 + 4, limit=2)
    assert [(m.recipient, m.time) for m in second] == [("ANDROID-2", T0 + 2), ("ANDROID-1", T0 + 3)]
    assert await store.expire_mail(T0 + 4, limit=2) == []
    assert [m.time for m in await store.mail_for("ANDROID-1")] == [T0 + 4]
    assert [m.xml for m in await store.mail_for("ANDROID-2")] == [b"<event uid='young'/>"]
    assert (await store.mail_count("ANDROID-1"), await store.mail_bytes("ANDROID-2")) == (1, 20)


async def test_package_keywords_and_delete(store: Store) -> None:
    record = PackageRecord(
        "a" * 64,
        "map",
        "map.zip",
        "application/zip",
        10,
        "alice",
        None,
        frozenset({"Cyan"}),
        ("x",),
        "public",
        T0,
        "u",
    )
    await store.put_package(record)
    assert await store.set_package_keywords(record.hash, ["missionpackage", "flood"])
    assert (await store.package(record.hash)) == record._replace(keywords=("missionpackage", "flood"))
    assert [r.hash for r in await store.search_packages(keywords=["flood"])] == [record.hash]
    assert not await store.set_package_keywords("b" * 64, ["x"])
    assert await store.delete_package(record.hash)
    assert await store.package(record.hash) is None
    assert not await store.delete_package(record.hash)


async def test_a_version_2_package_index_migrates_to_one_record_per_submitter(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    db.execute(schema.CREATE_VERSION_TABLE)
    for number, statements in schema.pending(schema.SQLITE, 0)[:2]:
        for statement in statements:
            db.execute(statement)
        db.execute("INSERT INTO schema_version VALUES (?, 0)", (number,))
    columns = ", ".join(column for column in schema.PACKAGE_COLUMNS if column != "expiration")  # version 2's
    db.execute(
        f"INSERT INTO packages ({columns}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        ("ee", "pkg", "pkg.zip", "application/zip", 3, None, None, '["Red"]', "[]", "public", T0, "u"),
    )
    db.commit()
    db.close()
    store = open_store(f"sqlite://{path}")
    await store.open()
    try:
        [record] = await store.packages_of("ee")
        assert (record.name, record.submitter, record.groups) == ("pkg", None, frozenset({"Red"}))
        await store.put_package(record._replace(submitter="bob", groups=frozenset({"Blue"})))
        assert len(await store.packages_of("ee")) == 2
    finally:
        await store.close()


async def test_a_package_expiration_is_kept_per_record(store: Store) -> None:
    record = package("dd")
    await store.put_package(record)
    assert (await store.packages_of(record.hash))[0].expiration == -1
    assert await store.set_package_expiration(record.hash, 1_900_000_000, record.submitter)
    assert (await store.packages_of(record.hash))[0].expiration == 1_900_000_000
    assert not await store.set_package_expiration("c" * 64, 5)


async def test_lost_units_are_kept_one_per_uid_until_dropped(store_url: str) -> None:
    store = open_store(store_url)
    await store.open()
    try:
        await store.put_lost(LostRecord("b", T0 + 5, "stale", frozenset({"Cyan"}), b"<event uid='b'/>"))
        await store.put_lost(LostRecord("a", T0, "disconnected", frozenset({"Red"}), b"<event/>"))
        await store.put_lost(LostRecord("a", T0 + 9, "stale", frozenset({"Red", "Cyan"}), b"<e/>"))
        await store.drop_lost(["nobody"])
    finally:
        await store.close()
    reopened = open_store(store_url)
    await reopened.open()
    try:
        assert await reopened.lost_units() == [
            LostRecord("b", T0 + 5, "stale", frozenset({"Cyan"}), b"<event uid='b'/>"),
            LostRecord("a", T0 + 9, "stale", frozenset({"Red", "Cyan"}), b"<e/>"),
        ]
        await reopened.drop_lost(["b"])
        assert [record.uid for record in await reopened.lost_units()] == ["a"]
    finally:
        await reopened.close()


async def test_injectors_and_group_times_survive_a_reopen(store_url: str) -> None:
    camera = InjectorRecord("cam", '<remarks text="north gate"/>', frozenset({"ops"}), "alice", T0)
    spare = InjectorRecord("cam", '<__video url="rtsp://cam/1"/>', frozenset({"ops", "admin"}), None, T0 + 1)
    store = open_store(store_url)
    await store.open()
    try:
        await store.put_injector(camera)
        await store.put_injector(camera._replace(created=T0 + 50))
        await store.put_injector(spare)
        await store.put_injector(camera._replace(uid="other"))
        first = await store.group_created(["ops", "admin"], T0)
        await store.drop_injectors("other")
    finally:
        await store.close()
    reopened = open_store(store_url)
    await reopened.open()
    try:
        kept = await reopened.injectors()
        later = await reopened.group_created(["ops", "new"], T0 + 1000)
        await reopened.drop_injectors("cam", spare.element)
        left = await reopened.injectors()
    finally:
        await reopened.close()
    assert kept == [camera, spare], "one row per (uid, element), the first kept"
    assert first == {"ops": T0, "admin": T0}
    assert later == {"ops": T0, "new": T0 + 1000}, "a group keeps the time it was first served"
    assert left == [camera]

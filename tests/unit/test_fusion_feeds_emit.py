"""The fusion service's output: rate limit per track, significant changes at once, deletions,
no output for tracks seen only through clients' own position reports."""

from types import MappingProxyType

from rallypoint.cot.event import Event
from rallypoint.fusion.engine import FusionEngine
from rallypoint.fusion.feeds.config import FeedConfig
from rallypoint.fusion.report import Domain, Report
from rallypoint.fusion.service_emit import TrackEmitter
from rallypoint.fusion.track import Track, TrackUpdate
from rallypoint.router.stats import Counters

T0 = 1_712_345_679_000
FEEDS = {
    "ais": FeedConfig(name="ais", kind="ais_udp", port=1, groups=frozenset({"Cyan"}), affiliation="f"),
    "aprs": FeedConfig(name="aprs", kind="aprs_is", port=2, groups=frozenset({"Red"})),
}


def report(source: str, identity: str, time_ms: int, lat: float = 49.0) -> Report:
    kind = "cot" if source == "pli" else source
    return Report(
        source,
        kind,
        identity,
        time_ms,
        time_ms,
        lat,
        0.1,
        None,
        None,
        None,
        10.0,
        Domain.SEA,
        None,
        MappingProxyType({}),
    )


class Sent:
    def __init__(self) -> None:
        self.events: list[tuple[Event, frozenset[str]]] = []

    def __call__(self, event: Event, groups: frozenset[str], identity: str | None) -> int:
        assert identity is None
        self.events.append((event, groups))
        return 1


def setup() -> tuple[FusionEngine, TrackEmitter, Sent]:
    sent = Sent()
    engine = FusionEngine()
    return engine, TrackEmitter(FEEDS, sent, Counters(), stale_s=60.0, min_interval_ms=1000), sent


def feed(engine: FusionEngine, emitter: TrackEmitter, item: Report, now_ms: int) -> list[TrackUpdate]:
    updates = engine.ingest(item, now_ms)
    for update in updates:
        emitter.offer(update, now_ms)
    return updates


def test_rate_limited_per_track_and_flushed_later() -> None:
    engine, emitter, sent = setup()
    feed(engine, emitter, report("ais", "mmsi:1", T0), T0)
    feed(engine, emitter, report("ais", "mmsi:1", T0 + 200, 49.0001), T0 + 200)
    feed(engine, emitter, report("ais", "mmsi:1", T0 + 400, 49.0002), T0 + 400)
    assert len(sent.events) == 1
    event, groups = sent.events[0]
    assert (event.type, groups) == ("a-f-S", frozenset({"Cyan"}))
    assert emitter.emitted(event.uid)
    emitter.flush(T0 + 900)
    assert len(sent.events) == 1
    emitter.flush(T0 + 1000)
    assert len(sent.events) == 2
    assert sent.events[1][0].point.lat > 49.0001  # the newest held state went out


def test_a_new_source_goes_out_at_once_to_both_feeds_groups() -> None:
    engine, emitter, sent = setup()
    engine.set_alias("aprs:BOAT", "mmsi:1")
    feed(engine, emitter, report("ais", "mmsi:1", T0), T0)
    feed(engine, emitter, report("aprs", "aprs:BOAT", T0 + 100), T0 + 100)
    assert len(sent.events) == 2
    assert sent.events[1][1] == frozenset({"Cyan", "Red"})


def test_tracks_seen_only_by_clients_are_not_sent_and_deletions_retract() -> None:
    engine, emitter, sent = setup()
    feed(engine, emitter, report("pli", "uid:ANDROID-1", T0), T0)
    assert sent.events == []
    feed(engine, emitter, report("ais", "mmsi:1", T0), T0)
    (update,) = feed(engine, emitter, report("ais", "mmsi:1", T0 + 5000), T0 + 5000)
    emitter.offer(TrackUpdate(update.track, True), T0 + 6000)
    deletion, groups = sent.events[-1]
    assert (deletion.type, groups) == ("t-x-d-d", frozenset({"Cyan"}))
    assert not emitter.emitted(update.track.uid)
    emitter.offer(TrackUpdate(update.track, True), T0 + 7000)  # twice: nothing more to retract
    assert sent.events[-1][0] is deletion


class Clients:
    """Which client uids show themselves in which groups until when, as the service tracks it."""

    def __init__(self) -> None:
        self.shown: dict[str, tuple[frozenset[str], int]] = {}

    def __call__(self, track: Track, now_ms: int) -> frozenset[str]:
        groups = frozenset[str]()
        for identity in track.identities:
            entry = self.shown.get(identity)
            if entry is not None and entry[1] > now_ms:
                groups |= entry[0]
        return groups


def aliased_setup() -> tuple[FusionEngine, TrackEmitter, Sent, Clients]:
    sent, clients = Sent(), Clients()
    engine = FusionEngine()
    engine.set_alias("mmsi:1", "uid:DECK-1")
    emitter = TrackEmitter(FEEDS, sent, Counters(), stale_s=60.0, min_interval_ms=1000, client_shown=clients)
    return engine, emitter, sent, clients


def test_an_aliased_track_is_not_sent_where_its_client_shows_itself() -> None:
    engine, emitter, sent, clients = aliased_setup()
    clients.shown["uid:DECK-1"] = (frozenset({"Cyan"}), T0 + 30_000)
    feed(engine, emitter, report("pli", "uid:DECK-1", T0), T0)
    for second in range(1, 20):
        feed(
            engine,
            emitter,
            report("ais", "mmsi:1", T0 + second * 1000, 49.0 + second * 1e-5),
            T0 + second * 1000,
        )
        emitter.flush(T0 + second * 1000 + 500)
    assert sent.events == []  # the client's own relayed PLI is the one icon in Cyan
    (track,) = engine.tracks()
    assert set(track.sources) == {"pli", "ais"}
    emitter.flush(T0 + 30_000)  # its PLI went stale: the fused track takes over, under its own uid
    event, groups = sent.events[-1]
    assert (event.uid, groups) == (track.uid, frozenset({"Cyan"}))
    assert event.uid != "DECK-1"
    assert [link.uid for link in event.detail.links] == ["DECK-1"]


def test_a_fresh_client_report_retracts_the_fused_copy_and_other_groups_keep_it() -> None:
    engine, emitter, sent, clients = aliased_setup()
    engine.set_alias("aprs:BOAT", "uid:DECK-1")
    feed(engine, emitter, report("ais", "mmsi:1", T0), T0)
    feed(engine, emitter, report("aprs", "aprs:BOAT", T0 + 100), T0 + 100)
    assert sent.events[-1][1] == frozenset({"Cyan", "Red"})
    clients.shown["uid:DECK-1"] = (frozenset({"Cyan"}), T0 + 60_000)
    feed(engine, emitter, report("pli", "uid:DECK-1", T0 + 200), T0 + 200)  # at once, past the limit
    (deletion, dropped), (update, kept) = sent.events[-2:]
    assert (deletion.type, dropped) == ("t-x-d-d", frozenset({"Cyan"}))
    assert (update.type, kept) == ("a-f-S", frozenset({"Red"}))


def test_held_updates_say_when_they_are_due() -> None:
    engine, emitter, sent = setup()
    assert emitter.next_due_ms() is None
    feed(engine, emitter, report("ais", "mmsi:1", T0), T0)
    assert emitter.next_due_ms() is None  # sent at once: nothing held
    feed(engine, emitter, report("ais", "mmsi:1", T0 + 300, 49.0001), T0 + 300)
    assert emitter.next_due_ms() == T0 + 1000
    emitter.flush(T0 + 999)
    assert len(sent.events) == 1
    emitter.flush(T0 + 1000)
    assert len(sent.events) == 2
    assert emitter.next_due_ms() is None


def test_a_silent_track_is_sent_again_before_it_goes_stale_on_the_map() -> None:
    engine, emitter, sent = setup()  # stale_s 60: refreshed after 30 s without an update
    feed(engine, emitter, report("ais", "mmsi:1", T0), T0)
    emitter.flush(T0 + 29_999)
    assert len(sent.events) == 1
    emitter.flush(T0 + 30_000)
    assert len(sent.events) == 2
    refreshed, _ = sent.events[1]
    assert (refreshed.uid, refreshed.time, refreshed.stale) == (
        sent.events[0][0].uid,
        T0 + 30_000,
        T0 + 90_000,
    )

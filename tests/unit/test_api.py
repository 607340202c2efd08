"""The API application without sockets: httpx's ASGI transport, a router, and an in-memory store."""

from collections.abc import Callable, Sequence
from typing import Any

import httpx
import pytest

from rallypoint.config import Settings
from rallypoint.cot.event import Event
from rallypoint.http.common.deps import Caller, anonymous, with_caller
from rallypoint.http.common.ops import parse_counter, prometheus_text
from rallypoint.http.marti.app import ApiDeps, build_api_app
from rallypoint.http.marti.history import bare_event, events_xml, track_feature
from rallypoint.http.marti.marti import java_millis_time
from rallypoint.router.router import Router
from rallypoint.router.stats import Counters
from rallypoint.store.base import StoredEvent
from tests.memory_store import MemoryStore

NOW = 1_700_000_000_000


def stored(uid: str, time: int, groups: set[str], lat: float = 1.0) -> StoredEvent:
    xml = f'<?xml version="1.0"?>\n<event uid="{uid}"/>'.encode()
    return StoredEvent(uid, "a-f-G", time, time + 60_000, lat, lat + 1, 5.0, frozenset(groups), None, xml)


def make_deps(
    store: Callable[[], Any] | None = None, counters: Counters | None = None, faults: Sequence[str] = ()
) -> ApiDeps:
    submitted: list[tuple[Caller, Event]] = []

    def submit(caller: Caller, event: Event, xml: bytes) -> int:
        submitted.append((caller, event))
        return 0

    counters = counters or Counters()
    return ApiDeps(
        faults=lambda: list(faults),
        router=Router(counters=counters),
        counters=counters,
        settings=Settings(),
        server_version="Rallypoint 9.9.9",
        submit=submit,
        now_ms=lambda: NOW,
        store=store,
    )


def client(deps: ApiDeps, caller: Caller | None) -> httpx.AsyncClient:
    app = build_api_app(deps)
    bound = app if caller is None else with_caller(app, lambda _: caller)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=bound), base_url="https://testserver")


OPS = Caller("carol", frozenset({"ops"}), "https")


async def test_a_request_without_a_bound_caller_is_refused() -> None:
    async with client(make_deps(), None) as http:
        response = await http.get("/Marti/api/clientEndPoints")
    assert response.status_code == 401
    assert response.json() == {"error": "no authenticated caller", "status": 401}


async def test_history_asks_the_store_for_the_callers_groups_only() -> None:
    store = MemoryStore([stored("A", NOW, {"ops"}), stored("B", NOW + 1, {"other"})])
    async with client(make_deps(lambda: store), OPS) as http:
        response = await http.get(
            "/api/history/events", params={"start": "2023-11-14T00:00:00Z", "limit": "5"}
        )
    assert [event["uid"] for event in response.json()["events"]] == ["A"]
    assert store.queries[0].groups == frozenset({"ops"})
    assert store.queries[0].start == 1_699_920_000_000
    assert store.queries[0].limit == 5


async def test_history_without_a_store_is_503_and_health_says_off() -> None:
    async with client(make_deps(None), OPS) as http:
        history = await http.get("/api/history/events")
        health = await http.get("/health")
    assert history.status_code == 503
    assert health.json() == {"status": "ok", "clients": 0, "store": "off"}


async def test_health_reports_store_lag_and_503_when_closed() -> None:
    store = MemoryStore(lag=7)
    async with client(make_deps(lambda: store), anonymous()) as http:
        open_health = await http.get("/health")
    async with client(make_deps(lambda: None), anonymous()) as http:
        closed_health = await http.get("/health")
    assert open_health.json()["store_lag"] == 7
    assert closed_health.status_code == 503


async def test_a_posted_event_is_submitted_as_from_the_caller() -> None:
    deps = make_deps()
    body = b'<event version="2.0" uid="X" type="a-h-G" how="m-g" time="2024-01-01T00:00:00Z" start="2024-01-01T00:00:00Z" stale="2024-01-01T00:05:00Z"><point lat="1" lon="2" hae="0" ce="0" le="0"/></event>'
    async with client(deps, OPS) as http:
        response = await http.post("/Marti/api/cot", content=body)
    assert response.json() == {"uid": "X", "type": "a-h-G", "delivered": 0}


def test_counter_names_become_prometheus_names_and_labels() -> None:
    assert parse_counter("events_in{transport=tcp,format=xml}") == (
        "events_in",
        (("transport", "tcp"), ("format", "xml")),
    )
    assert parse_counter("bytes_out") == ("bytes_out", ())
    assert parse_counter("odd name{{x}") == ("odd_name__x_", ())


def test_prometheus_text_groups_samples_under_one_type_line() -> None:
    counters = Counters()
    counters.inc("events_in{transport=tcp,format=xml}", 3)
    counters.inc("events_in{transport=udp,format=xml}")
    counters.inc('rejected{reason=a"b}')
    text = prometheus_text(make_deps(lambda: MemoryStore(lag=7), counters))
    lines = text.splitlines()
    assert lines[:3] == [
        "# TYPE rallypoint_events_in_total counter",
        'rallypoint_events_in_total{transport="tcp",format="xml"} 3',
        'rallypoint_events_in_total{transport="udp",format="xml"} 1',
    ]
    assert 'rallypoint_rejected_total{reason="a\\"b"} 1' in lines
    assert "rallypoint_store_lag_events 7" in lines
    assert "rallypoint_cache_entries 0" in lines
    assert text.endswith("\n")


@pytest.mark.parametrize(
    ("millis", "text"),
    [(0, "1970-01-01T00:00:00.0Z"), (1005, "1970-01-01T00:00:01.5Z"), (123, "1970-01-01T00:00:00.123Z")],
)
def test_client_endpoint_times_are_written_as_java_does(millis: int, text: str) -> None:
    assert java_millis_time(millis) == text


def test_events_are_nested_without_their_declarations() -> None:
    assert bare_event(b'<?xml version="1.0" standalone="yes"?>\n <event/>\n') == b"<event/>"
    assert events_xml([b"<event a='1'/>", b'<?xml version="1.0"?><event/>']).endswith(
        b"<events><event a='1'/><event/></events>"
    )


def test_a_track_is_a_linestring_of_lon_lat_hae_in_time_order() -> None:
    feature = track_feature(
        "A", [stored("A", NOW + 1000, {"ops"}, lat=2.0), stored("A", NOW, {"ops"}, lat=1.0)]
    )
    assert feature["geometry"]["coordinates"] == [[2.0, 1.0, 5.0], [3.0, 2.0, 5.0]]
    assert feature["properties"]["times"] == ["2023-11-14T22:13:20.000Z", "2023-11-14T22:13:21.000Z"]


async def test_a_failing_store_makes_health_degraded_with_the_reason_and_metrics_count_it() -> None:
    store = MemoryStore([])
    store.events_lost = 3
    deps = make_deps(lambda: store, faults=["mail not written: database or disk is full"])
    async with client(deps, anonymous()) as http:
        health = await http.get("/health")
        metrics = await http.get("/metrics")
    assert health.status_code == 200
    assert health.json()["status"] == "degraded"
    assert health.json()["reasons"] == ["mail not written: database or disk is full"]
    assert "rallypoint_store_events_lost 3" in metrics.text.splitlines()

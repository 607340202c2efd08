"""Operations endpoints: ``GET /health`` for load balancers and ``GET /metrics`` for Prometheus.

Counter names in :class:`~rallypoint.router.stats.Counters` already carry labels in the
form ``events_in{transport=tcp,format=xml}``; :func:`prometheus_text` turns each into the
text exposition format (``rallypoint_events_in_total{transport="tcp",format="xml"} 12``),
grouped by metric name with one ``# TYPE`` line each, followed by the gauges read at the
time of the request.
"""

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import NamedTuple

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from rallypoint.http.common.deps import ApiDeps

PREFIX = "rallypoint_"
PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_COUNTER = re.compile(r"^(?P<name>[^{}]+)(?:\{(?P<labels>[^{}]*)\})?$")
_INVALID_NAME_CHARS = re.compile(r"[^a-zA-Z0-9_:]")


class Sample(NamedTuple):
    """One line of the exposition: metric name, labels, value."""

    name: str
    labels: tuple[tuple[str, str], ...]
    value: float


def metric_name(raw: str) -> str:
    """A valid Prometheus metric or label name made of ``raw`` (other characters become ``_``)."""
    name = _INVALID_NAME_CHARS.sub("_", raw.strip())
    return name if name and not name[0].isdigit() else f"_{name}"


def parse_counter(raw: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """``events_in{transport=tcp,format=xml}`` -> (``events_in``, ((transport, tcp), (format, xml))).

    A name that does not follow that form is kept whole (sanitised) without labels, so an
    unusual counter never breaks the page.
    """
    match = _COUNTER.match(raw)
    if match is None:
        return metric_name(raw), ()
    labels: list[tuple[str, str]] = []
    for part in (match["labels"] or "").split(","):
        key, sep, value = part.partition("=")
        if sep and key.strip():
            labels.append((metric_name(key), value.strip()))
    return metric_name(match["name"]), tuple(labels)


def counter_samples(snapshot: Mapping[str, int]) -> list[Sample]:
    """Every counter as ``rallypoint_<name>_total`` samples."""
    samples = []
    for raw, value in snapshot.items():
        name, labels = parse_counter(raw)
        samples.append(Sample(f"{PREFIX}{name}_total", labels, value))
    return samples


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _format_value(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def exposition(samples: Iterable[Sample], kind: str) -> list[str]:
    """Text lines for ``samples`` of one ``kind`` (counter or gauge), one TYPE line per metric."""
    by_name: dict[str, list[Sample]] = defaultdict(list)
    for sample in samples:
        by_name[sample.name].append(sample)
    lines = []
    for name in sorted(by_name):
        lines.append(f"# TYPE {name} {kind}")
        for sample in sorted(by_name[name], key=lambda s: s.labels):
            labels = ",".join(f'{key}="{_escape(value)}"' for key, value in sample.labels)
            lines.append(
                f"{name}{{{labels}}} {_format_value(sample.value)}"
                if labels
                else f"{name} {_format_value(sample.value)}"
            )
    return lines


def gauge_samples(deps: ApiDeps) -> list[Sample]:
    """What is true now: connections by transport, cache size, queued messages, store lag."""
    by_transport: dict[str, int] = defaultdict(int)
    for client in deps.router.registry.clients():
        by_transport[client.transport] += 1
    samples = [
        Sample(f"{PREFIX}connections", (("transport", transport),), count)
        for transport, count in by_transport.items()
    ]
    samples.append(Sample(f"{PREFIX}cache_entries", (), len(deps.router.cache)))
    samples.append(Sample(f"{PREFIX}outbox_queued_messages", (), deps.queue_depth()))
    store = deps.store() if deps.store is not None else None
    if store is not None:
        samples.append(Sample(f"{PREFIX}store_lag_events", (), store.lag()))
        samples.append(Sample(f"{PREFIX}store_events_lost", (), store.write_health()[0]))
    for raw, value in sorted(deps.counters.gauges().items()):
        name, labels = parse_counter(raw)
        samples.append(Sample(f"{PREFIX}{name}", labels, value))
    return samples


def prometheus_text(deps: ApiDeps) -> str:
    """The whole /metrics page."""
    lines = exposition(counter_samples(deps.counters.snapshot()), "counter")
    lines += exposition(gauge_samples(deps), "gauge")
    return "\n".join(lines) + "\n"


def ops_routes(deps: ApiDeps) -> list[BaseRoute]:
    """``/health`` and ``/metrics``."""

    async def health(request: Request) -> Response:
        body: dict[str, object] = {"status": "ok", "clients": len(deps.router.registry)}
        if deps.store is None:
            body["store"] = "off"
            return JSONResponse(body)
        store = deps.store()
        if store is None:
            return JSONResponse({**body, "status": "unavailable", "store": "closed"}, status_code=503)
        faults = deps.faults()
        if faults:
            body |= {"status": "degraded", "reasons": faults}
        return JSONResponse({**body, "store": "degraded" if faults else "ok", "store_lag": store.lag()})

    async def metrics(request: Request) -> Response:
        return PlainTextResponse(prometheus_text(deps), media_type=PROMETHEUS_CONTENT_TYPE)

    return [Route("/health", health, methods=["GET"]), Route("/metrics", metrics, methods=["GET"])]

"""Rendering a :class:`BenchResult`: a report for people and a JSON document for scripts.

Both carry the same numbers and the same verdicts, computed once by :func:`verdicts`.
"""

from typing import Any, NamedTuple

from rallypoint.bench.runner import BenchResult
from rallypoint.bench.scenarios import Scenario, Target


class Verdict(NamedTuple):
    """One target and whether the run met it."""

    target: Target
    value: float | None
    passed: bool


def verdicts(result: BenchResult) -> list[Verdict]:
    """Check every target of the run's scenario against what was measured."""
    metrics = result.metrics()
    checked = []
    for target in result.scenario.targets:
        value = metrics.get(target.metric)
        checked.append(Verdict(target, value, target.passed(value)))
    return checked


def describe(scenario: Scenario) -> str:
    """The scenario's parameters in one line."""
    if scenario.idle:
        held = f"held {scenario.duration_s:g} s after {scenario.warmup_s:g} s settling"
        return f"{scenario.clients} idle connections {held}"
    if scenario.rate > 0:
        pace = f"{scenario.rate:g} msg/s in total"
    else:
        pace = f"flat out (window {scenario.window:,})" if scenario.window else "flat out"
    return (
        f"{scenario.clients} clients, {scenario.senders} sender(s) {pace}, {scenario.wire_format.value},"
        f" {scenario.duration_s:g} s measured after {scenario.warmup_s:g} s warm-up"
    )


def _number(value: float | None, digits: int = 0, unit: str = "") -> str:
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f}{unit}"


def render_text(result: BenchResult, origin: str) -> str:
    """The human-readable report."""
    scenario = result.scenario
    lines = [
        f"rallypoint bench {scenario.name}: {describe(scenario)}",
        f"  server       {result.address} ({origin})",
    ]
    if not scenario.idle:
        latency = result.latency
        lines += [
            f"  sent         {result.sent:,} messages",
            f"  expected     {result.expected:,} deliveries (sent x {scenario.clients} clients)",
            f"  received     {result.received:,} in {result.elapsed_s:.2f} s",
            f"  delivered    {_number(result.delivered_per_s, 0, ' msg/s')}",
            f"  ratio        {_number(result.delivery_ratio, 4)}"
            + ("" if result.settled else " (grace period ended while messages were still arriving)"),
            f"  latency      p50 {_number(latency.p50_ms, 2)} / p95 {_number(latency.p95_ms, 2)}"
            f" / p99 {_number(latency.p99_ms, 2)} ms ({latency.samples:,} samples)",
        ]
    opened = f"{scenario.connections:,} opened in {result.connect_s:.2f} s"
    lines.append(f"  connections  {opened}, {result.connections_lost} lost before the end")
    server = result.server
    if server is None:
        lines.append("  server RSS/CPU not measured (no --server-pid)")
    else:
        lines += [
            f"  server RSS   {server.rss_before_kib:,} KiB before, {server.rss_connected_kib:,} KiB"
            f" connected, {server.rss_after_kib:,} KiB after;"
            f" {server.rss_per_connection_kib:.2f} KiB per connection",
            f"  server CPU   {server.cpu_percent:.1f} % of a core"
            + ("" if scenario.idle else " during the measured phase"),
        ]
        if server.idle_cpu_percent is not None:
            lines.append(f"  idle CPU     {server.idle_cpu_percent:.2f} % while the connections were held")
    checked = verdicts(result)
    if checked:
        lines.append("targets")
        for verdict in checked:
            mark = "PASS" if verdict.passed else "FAIL"
            lines.append(f"  {mark}  {verdict.target}  (measured {_number(verdict.value, 3)})")
    return "\n".join(lines)


def to_json(result: BenchResult, origin: str) -> dict[str, Any]:
    """The machine-readable report."""
    scenario = result.scenario
    server = result.server
    checked = verdicts(result)
    return {
        "scenario": {
            "name": scenario.name,
            "clients": scenario.clients,
            "senders": scenario.senders,
            "rate": scenario.rate,
            "duration_s": scenario.duration_s,
            "warmup_s": scenario.warmup_s,
            "grace_s": scenario.grace_s,
            "format": scenario.wire_format.value,
            "max_messages": scenario.max_messages,
            "window": scenario.window,
            "idle": scenario.idle,
        },
        "server": {"address": result.address, "origin": origin},
        "sent": result.sent,
        "expected": result.expected,
        "received": result.received,
        "elapsed_s": result.elapsed_s,
        "delivered_per_s": result.delivered_per_s,
        "delivery_ratio": result.delivery_ratio,
        "settled": result.settled,
        "latency_ms": {
            "p50": result.latency.p50_ms,
            "p95": result.latency.p95_ms,
            "p99": result.latency.p99_ms,
            "samples": result.latency.samples,
        },
        "connections": scenario.connections,
        "connections_lost": result.connections_lost,
        "connect_s": result.connect_s,
        "server_rss_kib": None
        if server is None
        else {
            "before": server.rss_before_kib,
            "connected": server.rss_connected_kib,
            "after": server.rss_after_kib,
            "per_connection": server.rss_per_connection_kib,
        },
        "server_cpu_percent": server.cpu_percent if server else None,
        "server_idle_cpu_percent": server.idle_cpu_percent if server else None,
        "targets": [
            {
                "metric": v.target.metric,
                "op": v.target.op,
                "threshold": v.target.threshold,
                "value": v.value,
                "passed": v.passed,
            }
            for v in checked
        ],
        "passed": all(v.passed for v in checked),
    }

"""Rendering a :class:`BenchResult` or a :class:`Comparison`: a report for people and a JSON
document for scripts.

Both carry the same numbers and the same verdicts, computed once by :func:`verdicts` (and
:func:`comparison_verdicts`).
"""

from collections.abc import Sequence
from typing import Any, NamedTuple

from rallypoint.bench.compare import Comparison
from rallypoint.bench.compare_store import StoreComparison, render_store_text, store_comparison_json
from rallypoint.bench.results import BenchResult
from rallypoint.bench.runner import TLS_CONNECT_CONCURRENCY
from rallypoint.bench.scenarios import TLS_RATIO_TARGET, Scenario, Target


class Verdict(NamedTuple):
    """One target and whether the run met it."""

    target: Target
    value: float | None
    passed: bool


def verdicts(result: BenchResult) -> list[Verdict]:
    """Check every target of the run's scenario against what was measured."""
    return _check(result.scenario.targets, result.metrics())


def comparison_verdicts(comparison: Comparison) -> list[Verdict]:
    """Check the TLS-against-plain target of a comparison."""
    return _check([TLS_RATIO_TARGET], comparison.metrics())


def _check(targets: Sequence[Target], metrics: dict[str, float | None]) -> list[Verdict]:
    return [
        Verdict(target, metrics.get(target.metric), target.passed(metrics.get(target.metric)))
        for target in targets
    ]


def transport_name(tls: bool) -> str:
    """How the run's connections were carried, for people."""
    return "mutual TLS" if tls else "plain TCP"


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
        f"  server       {result.address}, {transport_name(result.tls)} ({origin})",
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
            f"  generator    {_number(result.generator_cpu_percent, 1, ' %')} of a core"
            " (the load generator itself, during the measured phase)",
        ]
    opened = f"{scenario.connections:,} opened in {result.connect_s:.2f} s"
    lines.append(f"  connections  {opened}, {result.connections_lost} lost before the end")
    if result.tls:
        connect = result.connect
        lines += [
            f"  handshakes   {_number(result.handshakes_per_s, 0, '/s')} (mutual TLS,"
            f" {TLS_CONNECT_CONCURRENCY} at a time, from the first connect until the server let"
            " the last client in)",
            f"  handshake    server {_number(connect.server_ms_each, 2, ' ms')} CPU each"
            f" ({_number(connect.server_cpu_percent, 0, ' %')} of a core; at most"
            f" {_number(connect.server_capacity_per_s, 0, '/s')} per server core),"
            f" load generator {_number(connect.generator_cpu_percent, 0, ' %')} of a core",
        ]
    server = result.server
    if server is None:
        lines.append("  server RSS/CPU not measured (no --server-pid)")
    else:
        lines += [
            f"  server RSS   {server.rss_before_kib:,} KiB before, {server.rss_connected_kib:,} KiB"
            f" connected, {server.rss_after_kib:,} KiB after;"
            f" {server.rss_per_connection_kib:.2f} KiB per {'TLS ' if result.tls else ''}connection",
            f"  server CPU   {server.cpu_percent:.1f} % of a core"
            + ("" if scenario.idle else " during the measured phase"),
        ]
        if server.idle_cpu_percent is not None:
            lines.append(f"  idle CPU     {server.idle_cpu_percent:.2f} % while the connections were held")
    lines += _target_lines(verdicts(result))
    return "\n".join(lines)


def _target_lines(checked: Sequence[Verdict]) -> list[str]:
    marked = [
        f"  {'PASS' if v.passed else 'FAIL'}  {v.target}  (measured {_number(v.value, 3)})" for v in checked
    ]
    return ["targets", *marked] if marked else []


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
        "transport": "tls" if result.tls else "tcp",
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
        "connect_server_cpu_s": result.connect.server_cpu_s,
        "connect_generator_cpu_s": result.connect.generator_cpu_s,
        "handshakes_per_s": result.handshakes_per_s,
        "generator_cpu_percent": result.generator_cpu_percent,
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
        "targets": _targets_json(checked),
        "passed": all(v.passed for v in checked),
    }


def _targets_json(checked: Sequence[Verdict]) -> list[dict[str, Any]]:
    return [
        {
            "metric": v.target.metric,
            "op": v.target.op,
            "threshold": v.target.threshold,
            "value": v.value,
            "passed": v.passed,
        }
        for v in checked
    ]


def comparison_passed(comparison: Comparison) -> bool:
    """Every run met its scenario's targets and TLS met its target against plain."""
    checked = [*comparison_verdicts(comparison), *(v for run in comparison.runs for v in verdicts(run))]
    return all(verdict.passed for verdict in checked)


def render_comparison_text(comparison: Comparison, origin: str) -> str:
    """Every run's report, then the comparison and its verdict."""
    runs = comparison.runs
    order = ", ".join(transport_name(result.tls) for result in runs)
    lines = []
    for number, result in enumerate(runs, 1):
        lines += [
            f"== run {number} of {len(runs)}: {transport_name(result.tls)} ==",
            render_text(result, origin),
        ]
    plain_rates = " and ".join(_number(result.delivered_per_s) for result in comparison.plain)
    tls = comparison.tls[0] if comparison.tls else None
    lines += [
        f"== comparison: {order} on one server ({origin}) ==",
        f"  plain TCP    {_number(comparison.plain_per_s, 0, ' msg/s')} delivered (mean of {plain_rates})",
        f"  mutual TLS   {_number(comparison.tls_per_s, 0, ' msg/s')} delivered",
        f"  TLS/plain    {_number(comparison.ratio, 3)}",
    ]
    if tls is not None:
        lines.append(
            f"  handshakes   {_number(tls.handshakes_per_s, 0, '/s')} while the TLS run opened its"
            f" {tls.scenario.connections:,} connections (a rate under load: idle --tls --clients 2000)"
        )
    lines += _target_lines(comparison_verdicts(comparison))
    return "\n".join(lines)


def comparison_to_json(comparison: Comparison, origin: str) -> dict[str, Any]:
    """The machine-readable report of a comparison: every run, then the comparison."""
    checked = comparison_verdicts(comparison)
    return {
        "runs": [to_json(result, origin) for result in comparison.runs],
        "comparison": {
            "order": ["tls" if result.tls else "tcp" for result in comparison.runs],
            "plain_delivered_per_s": [result.delivered_per_s for result in comparison.plain],
            "plain_mean_delivered_per_s": comparison.plain_per_s,
            "tls_delivered_per_s": comparison.tls_per_s,
            "tls_to_plain_ratio": comparison.ratio,
            "targets": _targets_json(checked),
            "passed": all(v.passed for v in checked),
        },
        "passed": comparison_passed(comparison),
    }


Outcome = BenchResult | Comparison | StoreComparison
"""What one ``rallypoint bench`` invocation produces."""


def to_text(outcome: Outcome, origin: str) -> str:
    """The human-readable report of a run or a comparison."""
    if isinstance(outcome, Comparison):
        return render_comparison_text(outcome, origin)
    if isinstance(outcome, StoreComparison):
        return render_store_text(outcome, [render_text(run, origin) for run in outcome.runs])
    return render_text(outcome, origin)


def to_document(outcome: Outcome, origin: str) -> dict[str, Any]:
    """The machine-readable report of a run or a comparison."""
    if isinstance(outcome, Comparison):
        return comparison_to_json(outcome, origin)
    if isinstance(outcome, StoreComparison):
        return store_comparison_json(outcome, [to_json(run, origin) for run in outcome.runs])
    return to_json(outcome, origin)


def passed(outcome: Outcome) -> bool:
    """Whether every target was met (the exit code)."""
    if isinstance(outcome, Comparison):
        return comparison_passed(outcome)
    if isinstance(outcome, StoreComparison):
        return outcome.passed
    return all(verdict.passed for verdict in verdicts(outcome))

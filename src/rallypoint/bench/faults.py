"""``rallypoint bench faults``: is anything accepted lost, repeated or reordered under faults?

The run is :mod:`rallypoint.bench.fault_run`. Counting, per device, over every chat the
sender wrote to it:

- **accepted**: the server said it kept it (``b-t-f-p``) or the device received it; a chat
  that was neither (in flight when the server was killed) was never acknowledged to anyone
  and is reported as **unconfirmed**, a chat answered ``b-t-f-s`` as **refused**;
- **delivered**: accepted chats the device received at least once; **lost** = accepted minus
  delivered;
- **duplicated**: receptions of a uid the device already had (allowed: same event uid);
- **reordered**: chats whose first arrival came after a chat written later to the same device.

Also reported: kept-mail commits per second (the burst to the offline devices, from the first
chat written to the last ``b-t-f-p``), and the healthy devices' latency without and with
the bad link attached. Targets: 0 lost, 0 reordered. Exit codes as for every bench.
"""

import argparse
import json
import sys
from typing import Any

from rallypoint.bench.errors import BenchError
from rallypoint.bench.fault_run import Observed, Options, run_faults
from rallypoint.bench.results import Latency
from rallypoint.transport.loop import run_event_loop

MAX_DEVICES = 200
MAX_CHATS = 10_000
MAX_KILLS = 20


def add_faults_arguments(bench: argparse.ArgumentParser) -> None:
    """The options only ``bench faults`` reads (``--json``, ``--server-log-level`` and ``--seed``,
    the seed of the kill points, are shared)."""
    group = bench.add_argument_group("faults (rallypoint bench faults)")
    group.add_argument("--devices", type=int, default=8, help="devices in all (healthy, bad and offline)")
    group.add_argument("--offline", type=int, default=2, help="devices away until the end")
    group.add_argument("--bad", type=int, default=2, help="devices behind the throttled, stalled, reset link")
    group.add_argument("--chats", type=int, default=100, help="direct chats per device and phase")
    group.add_argument("--kills", type=int, default=2, help="kill -9 of the server, each at a seeded point")
    group.add_argument(
        "--throttle", type=int, default=8 * 1024, help="bytes/s the bad link carries to its devices"
    )
    group.add_argument(
        "--netns",
        action="store_true",
        help="bad devices behind a real link (network namespace, veth, tbf; root): walks out of coverage",
    )


def options_from_args(args: argparse.Namespace) -> Options:
    options = Options(
        args.devices,
        args.offline,
        args.bad,
        args.chats,
        args.kills,
        args.seed,
        args.throttle,
        args.server_log_level,
        args.netns,
    )
    problems = []
    if not 1 <= options.devices <= MAX_DEVICES:
        problems.append(f"--devices must be 1..{MAX_DEVICES}")
    if options.offline < 0 or options.bad < 0 or options.devices - options.offline - options.bad < 1:
        problems.append("--offline and --bad cannot be negative and must leave a healthy device")
    if not 1 <= options.chats <= MAX_CHATS:
        problems.append(f"--chats must be 1..{MAX_CHATS}")
    if not 0 <= options.kills <= MAX_KILLS:
        problems.append(f"--kills must be 0..{MAX_KILLS}")
    if options.throttle_bytes_per_s < 1:
        problems.append("--throttle must be positive")
    if problems:
        raise BenchError("; ".join(problems))
    return options


def tally(observed: Observed) -> dict[str, int]:
    """Accepted, delivered, lost, duplicated, reordered, unconfirmed and refused, over every device."""
    sender = observed.sender
    counts = dict.fromkeys(
        ("sent", "accepted", "delivered", "lost", "duplicated", "reordered", "unconfirmed", "refused"), 0
    )
    for device in observed.devices:
        sent = sender.sent.get(device.callsign, [])
        position = {uid: index for index, uid in enumerate(sent)}
        received = [uid for uid in device.chats if uid in position]
        first = list(dict.fromkeys(received))
        accepted = {uid for uid in sent if uid in sender.kept or uid in device.first_arrival_ns}
        counts["sent"] += len(sent)
        counts["accepted"] += len(accepted)
        counts["delivered"] += len(first)
        counts["lost"] += len(accepted - set(first))
        counts["duplicated"] += len(received) - len(first)
        counts["refused"] += len(set(sent) & sender.refused - accepted)
        counts["unconfirmed"] += len(set(sent) - accepted - sender.refused)
        latest = -1
        for uid in first:
            if position[uid] < latest:
                counts["reordered"] += 1
            latest = max(latest, position[uid])
    return counts


def _latency(latency: Latency) -> dict[str, Any]:
    return {
        "samples": latency.samples,
        "p50_ms": latency.p50_ms,
        "p95_ms": latency.p95_ms,
        "p99_ms": latency.p99_ms,
    }


def to_document(options: Options, observed: Observed) -> dict[str, Any]:
    counts = tally(observed)
    return {
        "scenario": "faults",
        "devices": options.devices,
        "healthy": options.devices - options.offline - options.bad,
        "bad": options.bad,
        "offline": options.offline,
        "chats_per_device_and_phase": options.chats,
        "throttle_bytes_per_s": options.throttle_bytes_per_s,
        "bad_link": "namespace link" if options.netns else "fault proxy",
        "seed": options.seed,
        "kill_points": observed.kill_points,
        **counts,
        "kept": observed.kept,
        "kept_per_s": observed.kept / observed.kept_s if observed.kept_s > 0 else None,
        "healthy_latency_without_bad_link": _latency(observed.latency_without),
        "healthy_latency_with_bad_link": _latency(observed.latency_with),
        "targets": {"lost": counts["lost"] == 0, "reordered": counts["reordered"] == 0},
    }


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"


def to_text(document: dict[str, Any]) -> str:
    targets = document["targets"]
    without, with_bad = (
        document["healthy_latency_without_bad_link"],
        document["healthy_latency_with_bad_link"],
    )
    rate = document["kept_per_s"]
    return "\n".join(
        [
            f"rallypoint bench faults: {document['devices']} devices ({document['healthy']} healthy,"
            f" {document['bad']} behind the {document['bad_link']} at {document['throttle_bytes_per_s']} B/s,"
            f" {document['offline']} offline), {len(document['kill_points'])} kill -9"
            f" (seed {document['seed']}; killed as chat"
            f" {', '.join(map(str, document['kill_points'])) or '-'} of its burst was seen accepted)",
            f"  sent {document['sent']}, accepted {document['accepted']}, delivered {document['delivered']},"
            f" lost {document['lost']} ({'ok' if targets['lost'] else 'MISSED'}),"
            f" duplicated {document['duplicated']},"
            f" reordered {document['reordered']} ({'ok' if targets['reordered'] else 'MISSED'})",
            f"  unconfirmed {document['unconfirmed']} (in flight at a kill, never acknowledged),"
            f" refused {document['refused']}",
            f"  kept mail: {document['kept']} committed" + (f", {rate:,.0f} messages/s" if rate else ""),
            f"  healthy latency without the bad link: p50 {_ms(without['p50_ms'])},"
            f" p99 {_ms(without['p99_ms'])}; with it: p50 {_ms(with_bad['p50_ms'])},"
            f" p99 {_ms(with_bad['p99_ms'])}",
        ]
    )


def run_faults_bench(args: argparse.Namespace) -> int:
    """``rallypoint bench faults`` (see the module docstring)."""
    if args.target:
        print("rallypoint bench faults kills and restarts its own server: drop --target", file=sys.stderr)
        return 2
    try:
        options = options_from_args(args)
        observed = run_event_loop(run_faults(options))
    except (BenchError, OSError) as exc:
        print(f"rallypoint bench faults: {exc}", file=sys.stderr)
        return 2
    document = to_document(options, observed)
    print(json.dumps(document, indent=2) if args.json else to_text(document))
    return 0 if all(document["targets"].values()) else 1

"""Server memory and CPU time, read from Linux ``/proc`` (sans-I/O parsers plus one reader).

The bench measures the server from outside, as an operator would: resident set size from
``/proc/<pid>/status`` and user + system CPU time from ``/proc/<pid>/stat``. Nothing in
the server has to cooperate, so the numbers hold for any server process we are given.
"""

import os
import resource
from pathlib import Path
from typing import NamedTuple

from rallypoint.bench.errors import BenchError

_STAT_UTIME = 11
_STAT_STIME = 12
"""Indexes of utime and stime among the fields after the ``(comm)`` field of ``stat``."""

FD_HEADROOM = 64
"""Descriptors beyond one per connection: listeners, pipes, log files, the event loop."""


class ProcSample(NamedTuple):
    """One reading of a process: resident memory and CPU time used so far."""

    rss_kib: int
    cpu_s: float


def parse_rss_kib(status: str) -> int:
    """``VmRSS`` from the text of ``/proc/<pid>/status``, in KiB."""
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise BenchError("no VmRSS line in /proc status (is the process a zombie?)")


def parse_cpu_seconds(stat: str, ticks_per_second: int) -> float:
    """User plus system CPU time from the text of ``/proc/<pid>/stat``."""
    fields = stat[stat.rindex(")") + 2 :].split()  # comm may contain spaces and parentheses
    return (int(fields[_STAT_UTIME]) + int(fields[_STAT_STIME])) / ticks_per_second


def sample(pid: int) -> ProcSample:
    """Read the current memory and CPU time of process ``pid``."""
    base = Path("/proc") / str(pid)
    try:
        status = (base / "status").read_text()
        stat = (base / "stat").read_text()
    except OSError as exc:
        raise BenchError(f"cannot read /proc/{pid} (Linux only, and the process must exist): {exc}") from exc
    return ProcSample(parse_rss_kib(status), parse_cpu_seconds(stat, os.sysconf("SC_CLK_TCK")))


def cpu_percent(before: ProcSample, after: ProcSample, wall_s: float) -> float:
    """CPU use between two samples as a percentage of one core."""
    return 100.0 * (after.cpu_s - before.cpu_s) / wall_s if wall_s > 0 else 0.0


def ensure_open_files(needed: int) -> None:
    """Raise this process's descriptor limit to hold ``needed`` sockets (children inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = needed + FD_HEADROOM
    if soft == resource.RLIM_INFINITY or wanted <= soft:
        return
    if hard != resource.RLIM_INFINITY and wanted > hard:
        raise BenchError(
            f"{needed} connections need {wanted} open files but the hard limit is {hard}; raise it"
        )
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))

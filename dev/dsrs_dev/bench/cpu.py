"""The CPU time each process of the machine spends while a benchmark runs the saga: the workers, their
outbox relays, PostgreSQL, Kafka, FerretDB and the benchmark itself, from /proc.

User and system time of every live process of each kind, with the time of its children already reaped
(PostgreSQL's backends that ended, a relay that restarted): the difference between two readings is what
the kind spent in between, whatever came and went.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping
from pathlib import Path

KINDS = ("worker", "relay", "postgres", "kafka", "ferretdb", "benchmark")
TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def _times(stat: str) -> int:
    """utime + stime + cutime + cstime, in clock ticks, from a /proc/PID/stat line."""
    # The command name may hold spaces and parentheses: the fields start after its last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    return sum(int(value) for value in fields[11:15])


def _kind(pid: int, comm: str, workers: Collection[int], benchmark: int, parent: int, cmdline: bytes) -> str | None:
    if pid in workers:
        return "worker"
    if parent in workers:
        return "relay"
    if pid == benchmark:
        return "benchmark"
    if comm == "postgres":
        return "postgres"
    if comm == "java" and b"kafka" in cmdline:
        return "kafka"
    if comm.startswith("ferretdb"):
        return "ferretdb"
    return None


def cpu_seconds(workers: Collection[int], benchmark: int | None = None) -> dict[str, float]:
    """CPU seconds each kind of process has spent so far; `workers` are the worker processes' ids."""
    benchmark = os.getpid() if benchmark is None else benchmark
    spent = dict.fromkeys(KINDS, 0)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except (FileNotFoundError, ProcessLookupError):
            continue  # it ended between the listing and the read
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        parent = int(stat[stat.rindex(")") + 2 :].split()[1])
        kind = _kind(int(entry.name), comm, workers, benchmark, parent, cmdline)
        if kind is not None:
            spent[kind] += _times(stat)
    return {kind: ticks / TICKS_PER_SECOND for kind, ticks in spent.items()}


def microseconds_per_household(
    before: Mapping[str, float], after: Mapping[str, float], households: int
) -> dict[str, float]:
    """Each kind's CPU between two readings, a household, and their `total`."""
    each = {kind: round((after[kind] - before[kind]) / households * 1e6, 1) for kind in KINDS}
    return {**each, "total": round(sum(each.values()), 1)}

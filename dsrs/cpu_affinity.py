"""Which cores a process may run on: the worker's event loop on cores of its own, everything else off them.

The worker's agents run on one thread, the saga's serial path. On a machine it shares with its relay
and servers, that thread was ready to run nearly all the time at full speed, yet waited for a core a
fifth of it (its scheduler statistics over 10 s: 7.8 s running, 2.0 s runnable). With a core of its
own and the rest kept off it, alternated 20,000-household runs gave 1,725 and 1,658 households/s
against 1,485 and 1,506/s, and its wait fell to 0.8-1.3 s in ~12 s. Two full benchmark runs on a
machine that also ran the servers did not bear that out (see the README's Performance section): it is
an option, for operators to measure on their own machines.

Linux sets affinity per thread; a thread or process started afterwards inherits its creator's. So a
process places itself before it starts threads, and one already running is placed thread by thread.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

_RANGE = re.compile(r"^(\d+)(?:-(\d+))?$")
# What this process could run on when it started, before it placed itself anywhere.
_STARTED_ON = frozenset(os.sched_getaffinity(0))


def parse_cpu_list(text: str) -> tuple[int, ...]:
    """A list as `taskset -c` and /proc write it ("1", "0,2", "2-3"), sorted; empty text, no cores."""
    cpus: set[int] = set()
    for part in (piece.strip() for piece in text.split(",")):
        if not part:
            continue
        match = _RANGE.match(part)
        if match is None:
            raise ValueError(f"expected core numbers and ranges such as 1 or 0,2 or 2-3, not {part!r}")
        first, last = int(match[1]), int(match[2] or match[1])
        if last < first:
            raise ValueError(f"the range {part!r} runs backwards")
        cpus.update(range(first, last + 1))
    return tuple(sorted(cpus))


def machine_cpus() -> frozenset[int]:
    """The cores this process could use when it started (its container's, not necessarily the machine's)."""
    return _STARTED_ON


def other_cpus(reserved: Collection[int], cpus: Collection[int] | None = None) -> frozenset[int]:
    """`cpus` (by default the machine's) but the reserved ones; all of them if nothing would be left."""
    available = frozenset(machine_cpus() if cpus is None else cpus)
    return (available - frozenset(reserved)) or available


def place_this_thread(cpus: Collection[int]) -> None:
    """This thread, and every thread and process it starts from now on, run on `cpus` only."""
    os.sched_setaffinity(0, cpus)


def place_process(pid: int, cpus: Collection[int], but: Collection[int] = ()) -> None:
    """Every thread of a running process, and of its descendants but those in `but` (and theirs), on
    `cpus` only; what exits meanwhile is skipped. Those it starts later inherit the placement."""
    for process in (pid, *_descendants(pid, but)):
        for task in _tasks(process):
            try:
                os.sched_setaffinity(task, cpus)
            except (ProcessLookupError, PermissionError):
                continue


@contextmanager
def kept_off(pids: Iterable[int], reserved: Collection[int], but: Collection[int] = ()) -> Iterator[None]:
    """Running processes (their threads and descendants, but those in `but`) off the reserved cores
    meanwhile, then back on every core this process could use."""
    placed = list(pids) if reserved else []
    for pid in placed:
        place_process(pid, other_cpus(reserved), but)
    try:
        yield
    finally:
        for pid in placed:
            place_process(pid, machine_cpus(), but)


def _tasks(pid: int) -> list[int]:
    try:
        return [int(name) for name in os.listdir(f"/proc/{pid}/task")]
    except FileNotFoundError:
        return []


def _descendants(pid: int, but: Collection[int]) -> list[int]:
    found: list[int] = []
    waiting = [pid]
    while waiting:
        parent = waiting.pop()
        for task in _tasks(parent):
            try:
                children = Path(f"/proc/{parent}/task/{task}/children").read_text().split()
            except OSError:
                continue
            for child in (int(child) for child in children if int(child) not in but):
                found.append(child)
                waiting.append(child)
    return found

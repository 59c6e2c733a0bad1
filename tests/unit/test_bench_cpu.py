"""The benchmark's CPU accounting: /proc's fields read right, each process counted as its kind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from dsrs_dev.bench.cpu import KINDS, _times, cpu_seconds, microseconds_per_household

# pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime cutime cstime ...
STAT = "4242 (odd) name (x)) S 1 4242 4242 0 -1 4194560 100 0 0 0 70 30 5 2 20 0 1 0 1000 0 0"


def test_a_stat_line_gives_own_and_reaped_childrens_ticks_whatever_the_command_name() -> None:
    assert _times(STAT) == 70 + 30 + 5 + 2


def test_per_household_figures_are_each_kinds_difference_and_their_total() -> None:
    before = dict.fromkeys(KINDS, 1.0)
    after = {**before, "worker": 1.5, "postgres": 1.2}
    figures = microseconds_per_household(before, after, 1000)
    assert figures["worker"] == 500.0
    assert figures["postgres"] == 200.0
    assert figures["kafka"] == 0.0
    assert figures["total"] == 700.0


BURN = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass\n"
# A worker that burns CPU, then starts a relay that burns CPU, and says so once both have.
WORKER = (
    "import subprocess, sys\n"
    + BURN
    + f"relay = subprocess.Popen([sys.executable, '-c', {BURN + 'print(1, flush=True); time.sleep(60)'!r}],"
    + " stdout=subprocess.PIPE)\n"
    + "relay.stdout.readline()\nprint('ready', flush=True)\nimport time; time.sleep(60)\n"
)


def test_a_busy_worker_and_its_relay_child_are_counted_each_as_its_kind() -> None:
    worker = subprocess.Popen([sys.executable, "-c", WORKER], stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert worker.stdout is not None
        assert worker.stdout.readline().strip() == "ready"
        spent = cpu_seconds([worker.pid])
        assert spent["worker"] >= 0.25
        assert spent["relay"] >= 0.25
        assert spent["benchmark"] > 0
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dsrs.cpu_affinity import kept_off, machine_cpus, other_cpus, parse_cpu_list, place_process

two_cores = pytest.mark.skipif(len(machine_cpus()) < 2, reason="needs two cores to place anything")

# A process with a second thread and a child of its own, all sleeping until killed.
FAMILY = """
import subprocess, sys, threading, time
threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
print(child.pid, flush=True)
time.sleep(60)
"""


def test_core_lists_are_read_as_taskset_writes_them() -> None:
    assert parse_cpu_list("1") == (1,)
    assert parse_cpu_list("0,2") == (0, 2)
    assert parse_cpu_list(" 2-3 , 0 ") == (0, 2, 3)
    assert parse_cpu_list("") == ()


@pytest.mark.parametrize("text", ["a", "1-", "-1", "3-1", "1.5"])
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"such as|backwards"):
        parse_cpu_list(text)


def test_the_others_are_every_core_but_the_reserved_or_all_when_none_is_left() -> None:
    assert other_cpus({1}, {0, 1, 2}) == {0, 2}
    assert other_cpus({0, 1}, {0, 1}) == {0, 1}
    assert other_cpus((), {0, 1}) == {0, 1}


def _allowed(pid: int) -> set[frozenset[int]]:
    """The cores each thread of `pid` may run on, as the kernel reports them (not through our parser)."""
    return {frozenset(os.sched_getaffinity(int(task.name))) for task in Path(f"/proc/{pid}/task").iterdir()}


@pytest.fixture
def family() -> Iterator[tuple[int, int]]:
    parent = subprocess.Popen([sys.executable, "-c", FAMILY], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    while len(list(Path(f"/proc/{parent.pid}/task").iterdir())) < 2:
        time.sleep(0.01)
    yield parent.pid, child
    subprocess.run(["kill", str(child)], check=False)
    parent.kill()
    parent.wait()


@two_cores
def test_a_running_process_is_placed_with_every_thread_and_descendant(family: tuple[int, int]) -> None:
    parent, child = family
    core = min(machine_cpus())
    place_process(parent, {core})
    assert _allowed(parent) == {frozenset({core})}
    assert _allowed(child) == {frozenset({core})}


@two_cores
def test_kept_off_lasts_while_inside_and_gives_every_core_back(family: tuple[int, int]) -> None:
    parent, child = family
    reserved = {max(machine_cpus())}
    with kept_off([parent], reserved):
        assert _allowed(parent) == {machine_cpus() - reserved}
        assert _allowed(child) == {machine_cpus() - reserved}
    assert _allowed(parent) == {machine_cpus()}
    assert _allowed(child) == {machine_cpus()}


def test_nothing_is_placed_without_reserved_cores(family: tuple[int, int]) -> None:
    parent, _ = family
    with kept_off([parent], ()):
        assert _allowed(parent) == {machine_cpus()}


@two_cores
def test_what_is_spared_keeps_its_own_placement(family: tuple[int, int]) -> None:
    parent, child = family
    reserved = {max(machine_cpus())}
    with kept_off([parent], reserved, but=[child]):
        assert _allowed(parent) == {machine_cpus() - reserved}
        assert _allowed(child) == {machine_cpus()}

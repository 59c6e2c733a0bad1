"""A worker's resident memory, its relay process's included, against the events it has processed, sampled
while a benchmark runs.

Memory that grows with the events seen (an unbounded cache, a leak) shows as a rising line; a worker
that keeps only bounded state (batches, the RocksDB block cache, windows within their retention)
stays flat once warm.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from pathlib import Path

import httpx

from dsrs.waiting import wait_at_most

WARM_EVENTS = 10_000


@dataclass(frozen=True)
class MemorySample:
    events: int
    rss_mib: float


@dataclass(frozen=True)
class MemoryProfile:
    """Resident memory once warm (the first sample past WARM_EVENTS events), at the end, and at its peak."""

    warm_events: int
    warm_rss_mib: float
    last_events: int
    last_rss_mib: float
    peak_rss_mib: float


def resident_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def resident_with_children_mib(pid: int) -> float:
    """The process's resident memory and its children's: a worker's includes its outbox relay process."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    total = resident_mib(pid)
    for child in children:
        # A child that exits between the two reads has no memory left to count.
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            total += resident_mib(int(child))
    return total


def events_processed(metrics_text: str) -> int:
    """The events the worker's agents took, from a /metrics scrape: those they applied, and those they skipped
    because the transaction that wrote them had applied their stage (colocated stages)."""
    total = 0.0
    for line in metrics_text.splitlines():
        if line.startswith(("dsrs_agent_events_processed_total{", "dsrs_agent_events_applied_upstream_total{")):
            total += float(line.rsplit(" ", 1)[1])
    return int(total)


def memory_profile(samples: list[MemorySample]) -> MemoryProfile | None:
    warm = next((s for s in samples if s.events >= WARM_EVENTS), None)
    if warm is None:
        return None
    last = samples[-1]
    peak = max(s.rss_mib for s in samples if s.events >= warm.events)
    return MemoryProfile(warm.events, round(warm.rss_mib, 1), last.events, round(last.rss_mib, 1), round(peak, 1))


class MemoryWatch:
    def __init__(self, pid: int, base_url: str, admin_token: str, interval_seconds: float = 2.0) -> None:
        self.pid = pid
        self.base_url = base_url
        self.headers = {"Authorization": f"Bearer {admin_token}"}
        self.interval_seconds = interval_seconds
        self.samples: list[MemorySample] = []

    async def sample(self, client: httpx.AsyncClient) -> MemorySample:
        response = await client.get("/metrics", headers=self.headers)
        response.raise_for_status()
        return MemorySample(events_processed(response.text), resident_with_children_mib(self.pid))

    async def run(self, stopping: asyncio.Event) -> None:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=10.0) as client:
            while True:
                # A scrape that fails (the worker busy) costs one sample, not the benchmark.
                with contextlib.suppress(httpx.HTTPError):
                    self.samples.append(await self.sample(client))
                if stopping.is_set():
                    return
                await wait_at_most(stopping, self.interval_seconds)

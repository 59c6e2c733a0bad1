"""The worker's heap and Python's cyclic garbage collector: the startup heap frozen, every pause measured.

A full collection walks every object the process holds while the event loop waits, and every household
in flight waits out the pause. Most of those objects (the modules, the Faust app, the clients built at
startup) live as long as the process; frozen once the worker runs (`gc.freeze`), they are no longer
walked: collections see only what came after.
"""

from __future__ import annotations

import gc
import time
from typing import Any

from dsrs.monitoring.metrics import GC_PAUSE_SECONDS

# Python's default (700, 10, 10) collects while a stage's batch is still alive, promoting it and walking
# older generations for little: objects here are freed by reference counting, cycles are rare.
# Rarer collections spare that CPU (docs/performance.md).
COLLECTION_THRESHOLDS = (50_000, 20, 10)
_frozen = False
_pause_started: float | None = None


def freeze_startup_heap() -> None:
    """Collect what is garbage now, then exempt everything left from future collections. Once per process:
    what is frozen is never collected, so freezing again later would keep garbage made meanwhile forever."""
    global _frozen
    if _frozen:
        return
    _frozen = True
    gc.collect()
    gc.freeze()
    gc.set_threshold(*COLLECTION_THRESHOLDS)


def measure_gc_pauses() -> None:
    """Record every collection's duration in `dsrs_gc_pause_seconds`, by generation."""
    for generation in range(3):
        # Every series exists from the start: "no pauses" shows as 0, not as no data.
        GC_PAUSE_SECONDS.labels(generation=str(generation))
    if _on_gc not in gc.callbacks:
        gc.callbacks.append(_on_gc)


def _on_gc(phase: str, info: dict[str, Any]) -> None:
    global _pause_started
    if phase == "start":
        _pause_started = time.perf_counter()
    elif _pause_started is not None:
        GC_PAUSE_SECONDS.labels(generation=str(info["generation"])).observe(time.perf_counter() - _pause_started)
        _pause_started = None

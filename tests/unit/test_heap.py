from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from prometheus_client import REGISTRY

from dsrs.monitoring import heap


@pytest.fixture
def unfrozen(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(heap, "_frozen", False)
    thresholds = gc.get_threshold()
    yield
    # The rest of the test run collects as usual.
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def _pauses(generation: int) -> float:
    return REGISTRY.get_sample_value("dsrs_gc_pause_seconds_sum", {"generation": str(generation)}) or 0.0


def test_a_collection_is_measured_by_its_generation() -> None:
    heap.measure_gc_pauses()
    heap.measure_gc_pauses()
    assert gc.callbacks.count(heap._on_gc) == 1
    before = _pauses(2)
    gc.collect()
    assert _pauses(2) > before


def test_the_startup_heap_is_frozen_once(unfrozen: None) -> None:
    kept = [object() for _ in range(100)]
    heap.freeze_startup_heap()
    frozen = gc.get_freeze_count()
    assert frozen >= len(kept)
    assert gc.get_threshold() == heap.COLLECTION_THRESHOLDS
    more: list[list[int]] = [[] for _ in range(100)]
    heap.freeze_startup_heap()
    # A second call freezes nothing more: what is frozen is never collected.
    assert gc.get_freeze_count() == frozen
    assert len(more) == 100

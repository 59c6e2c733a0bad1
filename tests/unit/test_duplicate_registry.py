"""The benchmark's registry with known duplicates, and how its accuracy is counted."""

from __future__ import annotations

import orjson

from dsrs.registry.household import parse_household
from dsrs_dev.bench.dedup import accuracy
from dsrs_dev.duplicate_registry import duplicate_registry

REGIONS = ("R01", "R02", "R03")


def test_every_known_duplicate_is_a_valid_second_registration_of_one_family() -> None:
    registry = duplicate_registry(400, REGIONS, seed=3)
    data = {m.household_id: orjson.loads(m.value)["data"] for m in registry.messages}
    assert len(registry.pairs) == 40
    assert len(data) == 440
    for pair in registry.pairs:
        first, second = (parse_household(data[household_id], REGIONS) for household_id in pair)
        assert first.region == second.region
        assert first.household_size == second.household_size
    assert registry.relatives_sharing_a_phone > 0
    assert registry.namesakes > 0


def test_the_same_seed_makes_the_same_registry() -> None:
    first, second = duplicate_registry(100, REGIONS, seed=5), duplicate_registry(100, REGIONS, seed=5)
    assert [m.household_id for m in first.messages] == [m.household_id for m in second.messages]
    assert first.pairs == second.pairs


def test_precision_and_recall_count_pairs_whatever_their_order() -> None:
    known = {frozenset(("a", "b")), frozenset(("c", "d"))}
    found = accuracy(known, {frozenset(("b", "a")), frozenset(("a", "c"))})
    assert (found.precision, found.recall) == (0.5, 0.5)

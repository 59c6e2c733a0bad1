from datetime import UTC, datetime
from typing import Any

import pytest

from dsrs.analytics.counter import Snapshot
from dsrs.analytics.rollups import TOTALS, WINDOWS, MongoRollups


class FakeCollection:
    def __init__(self, store: "FakeStore", name: str) -> None:
        self.store = store
        self.name = name

    async def bulk_write(self, requests: list[Any], ordered: bool) -> None:
        if self.store.failing:
            raise ConnectionError("store down")
        self.store.writes.append((self.name, [request._filter["_id"] for request in requests]))
        for request in requests:
            self.store.approved[request._filter["_id"]] = request._doc["$set"]["metrics"]["approved"]["count"]


class FakeStore:
    """Stands in for the client, the database and its collections: records each bulk write."""

    def __init__(self) -> None:
        self.writes: list[tuple[str, list[str]]] = []
        self.approved: dict[str, int] = {}
        self.failing = False

    def __getitem__(self, name: str) -> Any:
        return self if name == "kpis" else FakeCollection(self, name)


def _snapshot(approved: int) -> Snapshot:
    counts = {"approved": {"count": approved, "amount": "0"}}
    start = datetime(2026, 11, 29, 5, tzinfo=UTC)
    return Snapshot(totals={("cash", "R01"): counts}, windows={("cash", "R01"): {("hour", start): counts}})


def _rollups(store: FakeStore) -> MongoRollups:
    return MongoRollups(store, "kpis")  # type: ignore[arg-type]


async def test_batches_between_flushes_write_each_key_once_with_the_newest_values() -> None:
    store = FakeStore()
    rollups = _rollups(store)
    for approved in (1, 2, 3):
        rollups.apply(_snapshot(approved))
    assert rollups.pending == 2
    assert await rollups.flush() == 2
    assert store.writes == [(TOTALS, ["cash|R01"]), (WINDOWS, ["hour|2026-11-29T05:00:00+00:00|cash|R01"])]
    assert set(store.approved.values()) == {3}
    assert await rollups.flush() == 0
    assert len(store.writes) == 2


async def test_what_a_failed_flush_did_not_write_stays_pending_behind_newer_values() -> None:
    store = FakeStore()
    rollups = _rollups(store)
    rollups.apply(_snapshot(1))
    store.failing = True
    with pytest.raises(ConnectionError):
        await rollups.flush()
    assert rollups.pending == 2
    rollups.apply(_snapshot(5))
    store.failing = False
    assert await rollups.flush() == 2
    assert rollups.pending == 0
    assert set(store.approved.values()) == {5}

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

import pytest
from faust.types import TP, EventT

from dsrs.streams.batching import SagaStream, is_backlog, waiting_after
from dsrs.worker.app import SagaApp
from tests.unit.faust_delivery import Delivery, saga_app

INTAKE = TP("saga.intake", 0)


def test_what_waits_is_what_the_partition_holds_after_the_newest_taken() -> None:
    # The highwater is the offset the next message will get: 10 means offsets up to 9 exist.
    assert waiting_after(offset=5, highwater=10) == 4
    assert waiting_after(offset=9, highwater=10) == 0


def test_a_partition_with_no_known_highwater_is_not_waited_for() -> None:
    assert waiting_after(offset=5, highwater=None) == 0


def test_a_highwater_not_yet_refreshed_past_the_batch_counts_as_nothing_waiting() -> None:
    assert waiting_after(offset=12, highwater=10) == 0


def test_a_backlog_that_fills_the_batch_or_doubles_it_is_waited_for() -> None:
    assert is_backlog(held=40, waiting=5_000, capacity=500)
    assert is_backlog(held=370, waiting=330, capacity=500)
    assert is_backlog(held=100, waiting=100, capacity=500)


def test_a_steady_trickle_behind_a_batch_is_not_waited_for() -> None:
    # A steady load is always a little behind: waiting for it held every batch for the whole extra wait.
    assert not is_backlog(held=150, waiting=50, capacity=500)
    assert not is_backlog(held=30, waiting=2, capacity=500)


def test_an_empty_or_full_batch_does_not_wait() -> None:
    assert not is_backlog(held=0, waiting=1_000, capacity=500)
    assert not is_backlog(held=500, waiting=1_000, capacity=500)


@pytest.fixture
def app(tmp_path: Path) -> SagaApp:
    return saga_app(tmp_path)


class Competitor:
    """Another task on the event loop: counts the turns of the loop it gets."""

    def __init__(self) -> None:
        self.turns = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            self.turns += 1
            await asyncio.sleep(0)

    def __enter__(self) -> Competitor:
        self._task = asyncio.ensure_future(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


def batches_of(app: SagaApp, delivery: Delivery, size: int) -> AsyncGenerator[list[EventT[Any]], None]:
    stream = app.stream(delivery.stream)
    assert isinstance(stream, SagaStream)
    return stream.take_waiting(size, within=0.01)


def test_a_batch_takes_what_the_buffer_holds_without_a_turn_of_the_loop_per_event(app: SagaApp) -> None:
    delivery = Delivery(app, INTAKE)

    async def scenario() -> tuple[int, int]:
        await delivery.deliver(1_200)
        batches = batches_of(app, delivery, 500)
        with Competitor() as other:
            batch = await anext(batches)
        await batches.aclose()
        return len(batch), other.turns

    size, turns_given_away = asyncio.run(scenario())

    assert size == 500
    # Faust's iterator hands events over one loop turn at a time: the other task got 500 turns.
    assert turns_given_away < 10


def test_every_message_comes_once_in_order_and_is_acknowledged_after_its_batch(app: SagaApp) -> None:
    delivery = Delivery(app, INTAKE)
    app.topics.acking_topics.add(INTAKE.topic)

    async def scenario() -> None:
        messages = await delivery.deliver(1_200)
        batches = batches_of(app, delivery, 500)
        taken: list[list[int]] = []
        for _ in range(3):
            batch = await anext(batches)
            offsets = [event.message.offset for event in batch]
            taken.append(offsets)
            # The caller holds the batch: tracked, not acknowledged yet.
            assert all(event.message.tracked and not event.message.acked for event in batch)
        await batches.aclose()

        assert [len(offsets) for offsets in taken] == [500, 500, 200]
        assert [offset for offsets in taken for offset in offsets] == list(range(1_200))
        assert all(message.acked for message in messages)

    asyncio.run(scenario())


def test_a_message_fetched_before_a_rebalance_is_left_to_be_read_again(app: SagaApp) -> None:
    delivery = Delivery(app, INTAKE)

    async def scenario() -> list[int]:
        stale = await delivery.deliver(3, generation_id=app.consumer_generation_id - 1)
        await delivery.deliver(2)
        batches = batches_of(app, delivery, 500)
        batch = await anext(batches)
        await batches.aclose()
        assert not any(message.acked for message in stale)
        return [event.message.offset for event in batch]

    assert asyncio.run(scenario()) == [3, 4]


def test_a_batch_waits_for_its_first_message_and_then_hands_over_what_came(app: SagaApp) -> None:
    delivery = Delivery(app, INTAKE)

    async def scenario() -> list[int]:
        batches = batches_of(app, delivery, 500)
        first = asyncio.ensure_future(anext(batches))
        await asyncio.sleep(0.05)
        assert not first.done()
        await delivery.deliver(7)
        batch = await first
        await batches.aclose()
        return [event.message.offset for event in batch]

    assert asyncio.run(scenario()) == list(range(7))


def test_the_batches_end_when_faust_ends_the_streams_iteration(app: SagaApp) -> None:
    delivery = Delivery(app, INTAKE)

    async def scenario() -> None:
        batches = batches_of(app, delivery, 500)
        waiting = asyncio.ensure_future(anext(batches))
        await asyncio.sleep(0.01)
        # What Faust does to a channel when its agent stops.
        await delivery.stream.throw(StopAsyncIteration())
        with pytest.raises(StopAsyncIteration):
            await waiting

    asyncio.run(scenario())

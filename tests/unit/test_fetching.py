from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, cast

import pytest
from faust.types import TP

from dsrs.streams.fetching import HELD_BACK_POLL_SECONDS, SagaConsumer
from dsrs.worker.app import CONSUMER_OPTIONS, SagaApp

HELD = TP("saga.topic", 0)
OTHER = TP("saga.topic", 1)


def _app(tmp_path: Path) -> SagaApp:
    return SagaApp("fetching-test", broker="kafka://127.0.0.1:9", datadir=str(tmp_path), autodiscover=False)


class RecordingFetches:
    """Stands in for the consumer thread's fetch: records what was asked for, returns nothing."""

    def __init__(self) -> None:
        self.asked: list[tuple[set[TP], float]] = []

    async def __call__(self, active_partitions: set[TP], timeout: float) -> dict[TP, list[Any]]:  # noqa: ASYNC109
        self.asked.append((set(active_partitions), timeout))
        return {}


@pytest.fixture
def consumer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SagaConsumer:
    saga_consumer = cast(SagaConsumer, _app(tmp_path).consumer)
    saga_consumer._active_partitions = {HELD, OTHER}
    monkeypatch.setattr(saga_consumer, "_getmany", RecordingFetches())
    return saga_consumer


def test_the_saga_app_feeds_its_streams_through_the_saga_consumer(tmp_path: Path) -> None:
    assert isinstance(_app(tmp_path).consumer, SagaConsumer)


def test_every_saga_app_buffers_what_the_worker_buffers(tmp_path: Path) -> None:
    # The dispatch benchmark's app is a SagaApp too: it must measure the consumer the worker runs.
    app = _app(tmp_path)
    assert app.conf.consumer_max_fetch_size == CONSUMER_OPTIONS["consumer_max_fetch_size"]
    assert app.conf.stream_buffer_maxsize == CONSUMER_OPTIONS["stream_buffer_maxsize"]


def test_with_nothing_held_back_the_fetch_waits_as_long_as_faust_asks(consumer: SagaConsumer) -> None:
    asyncio.run(consumer._wait_next_records(1.0))

    assert cast(RecordingFetches, consumer._getmany).asked == [({HELD, OTHER}, 1.0)]


def test_while_a_partition_is_held_back_the_others_are_asked_for_again_soon(consumer: SagaConsumer) -> None:
    consumer.on_buffer_full(HELD)

    asyncio.run(consumer._wait_next_records(1.0))

    assert cast(RecordingFetches, consumer._getmany).asked == [({OTHER}, HELD_BACK_POLL_SECONDS)]


def test_with_every_partition_held_back_a_drained_buffer_ends_the_wait(consumer: SagaConsumer) -> None:
    consumer.on_buffer_full(HELD)
    consumer.on_buffer_full(OTHER)

    async def drain_while_waiting() -> None:
        # Far longer than the test takes: without the wake-up it would wait all of it and fetch nothing.
        waiting = asyncio.create_task(consumer._wait_next_records(300.0))
        await asyncio.sleep(0)
        consumer.on_buffer_drop(HELD)
        await waiting

    asyncio.run(drain_while_waiting())

    assert cast(RecordingFetches, consumer._getmany).asked == [({HELD}, HELD_BACK_POLL_SECONDS)]

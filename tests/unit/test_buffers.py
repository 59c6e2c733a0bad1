from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from faust.types import TP

from dsrs.streams.buffers import BACKSTOP_FACTOR, SagaTopic, StreamBuffer
from dsrs.worker.app import CONSUMER_OPTIONS, SagaApp
from tests.unit.faust_delivery import Delivery, saga_app

MAXSIZE = CONSUMER_OPTIONS["stream_buffer_maxsize"]
INTAKE = TP("saga.intake", 0)


@pytest.fixture
def app(tmp_path: Path) -> SagaApp:
    return saga_app(tmp_path)


def test_the_saga_apps_topics_read_through_stream_buffers(app: SagaApp) -> None:
    stream = app.topic("saga.intake").clone(is_iterator=True)
    assert isinstance(stream, SagaTopic)
    assert isinstance(stream.queue, StreamBuffer)


def test_a_partition_is_held_back_once_its_buffer_is_four_fifths_full(app: SagaApp) -> None:
    delivery = Delivery(app, INTAKE)

    asyncio.run(delivery.deliver(MAXSIZE * 4 // 5))
    assert delivery.held_back == []

    asyncio.run(delivery.deliver(1))
    assert delivery.held_back == [INTAKE]


def test_what_was_fetched_before_the_hold_is_delivered_past_the_buffer_size_without_waiting(app: SagaApp) -> None:
    # Faust's buffer would make the fetcher wait at MAXSIZE, and every stream's messages behind it.
    delivery = Delivery(app, INTAKE)

    asyncio.run(delivery.deliver(MAXSIZE + 500))

    assert delivery.buffer.qsize() == MAXSIZE + 500
    assert delivery.held_back == [INTAKE]


def test_the_partition_is_fetched_again_once_the_buffer_drains_to_two_fifths(app: SagaApp) -> None:
    delivery = Delivery(app, INTAKE)
    asyncio.run(delivery.deliver(MAXSIZE + 500))

    while not delivery.fetched_again:
        delivery.buffer.get_nowait()

    assert delivery.fetched_again == [INTAKE]
    assert delivery.buffer.qsize() == MAXSIZE * 2 // 5 - 1


def test_the_backstop_is_where_delivery_would_wait(app: SagaApp) -> None:
    buffer: StreamBuffer = StreamBuffer(MAXSIZE, flow_control=app.flow_control, clear_on_resume=True)
    for value in range(MAXSIZE * BACKSTOP_FACTOR - 1):
        buffer.force_put_nowait(value)
    assert not buffer.full()

    buffer.force_put_nowait(-1)
    assert buffer.full()

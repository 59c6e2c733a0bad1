"""Faust's own hand-over of fetched messages into an agent's stream, without a broker: the conductor's
handler for one partition, as the fetcher calls it for each message."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from faust.types import TP
from faust.types.tuples import Message

from dsrs.streams.raw_schema import RawSchema
from dsrs.worker.app import SagaApp

# Longer than any delivery that does not wait; a delivery that waits for the agent would wait forever.
HANG_GUARD_SECONDS = 30.0


def saga_app(tmp_path: Path) -> SagaApp:
    app = SagaApp("delivery-test", broker="kafka://127.0.0.1:9", datadir=str(tmp_path), autodiscover=False)
    app.flow_control.resume()
    return app


class Delivery:
    """Messages handed to a stream of one partition, with the partitions the consumer was asked to hold
    back or fetch again."""

    def __init__(self, app: SagaApp, tp: TP) -> None:
        self.app = app
        self.tp = tp
        self.stream = app.topic(tp.topic, schema=RawSchema()).clone(is_iterator=True)
        self.held_back: list[TP] = []
        self.fetched_again: list[TP] = []
        app.consumer.on_buffer_full = self.held_back.append  # type: ignore[method-assign, assignment]
        app.consumer.on_buffer_drop = self.fetched_again.append  # type: ignore[method-assign, assignment]
        self._handler = app.topics._build_handler(tp, {self.stream})  # type: ignore[attr-defined]
        self._offset = 0
        # What the broker would say: the partition ends with the last message delivered.
        app.consumer.highwater = lambda tp: self._offset  # type: ignore[method-assign]

    @property
    def buffer(self) -> Any:
        return self.stream.queue

    async def deliver(self, count: int, generation_id: int | None = None) -> list[Message]:
        """`count` messages, fetched in the consumer's current generation unless told otherwise."""
        generation = self.app.consumer_generation_id if generation_id is None else generation_id
        delivered = []
        for _ in range(count):
            message = Message(
                self.tp.topic,
                self.tp.partition,
                self._offset,
                0.0,
                0,
                [],
                b"key",
                b"{}",
                None,
                generation_id=generation,
            )
            self._offset += 1
            await asyncio.wait_for(self._handler(message), HANG_GUARD_SECONDS)
            delivered.append(message)
        return delivered

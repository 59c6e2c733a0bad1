"""How fetched messages reach the agents' streams: Faust's fetch loop, without four tasks per message.

Faust's fetcher hands each message to its stream as `wait_first(callback(message), suspend_flow.wait())`,
so that a delivery blocked on a full stream buffer is abandoned when a rebalance suspends the flow. That
wraps every message in four tasks and an `asyncio.wait` and takes two or three turns of the event loop,
and on a busy worker the turns a message needs are what limits delivery. While the flow is active the
delivery is awaited directly; it returns at once unless the stream's buffer is full (with
dsrs.streams.buffers, only at its backstop), and a rebalance clears the buffers (freeing it) or stops the
fetcher (cancelling it). When the flow is suspended, the message goes Faust's way.

Partitions held back. When a stream's buffer fills past Faust's high-water mark, Faust stops asking for
that partition's records until the buffer drains, but the records aiokafka already fetched for it stay
in aiokafka's buffer, and aiokafka sends no fetch to a broker while any of its partitions holds records
younger than its prefetch backoff. So one held-back partition could stall every partition on the broker
for up to Faust's 1 s fetch timeout, and with every partition held back Faust slept a second. While
partitions are held back, the consumer asks again every HELD_BACK_POLL_SECONDS, and with all of them held
back it waits for a buffer to drain instead of sleeping.

Faust's fetch loop is reached through dsrs.streams.faust_internals.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import ClassVar

from faust.transport.consumer import RecordMap
from faust.transport.drivers import aiokafka
from faust.types import TP, ConsumerT
from faust.types.tuples import Message

from dsrs.streams.faust_internals import HookedConsumer, active_partitions, held_back_partitions
from dsrs.waiting import wait_at_most

# How often the consumer asks for records while some partition is held back by its stream's buffer; asking
# every 0.1 s, aiokafka's prefetch backoff, did not end the stall.
HELD_BACK_POLL_SECONDS = 0.02


class SagaConsumer(HookedConsumer):
    _buffer_drained: asyncio.Event | None = None

    def on_buffer_drop(self, tp: TP) -> None:
        super().on_buffer_drop(tp)
        if self._buffer_drained is not None:
            self._buffer_drained.set()

    # Faust's signature, timeout included.
    async def wait_next_records(self, timeout: float) -> tuple[RecordMap | None, set[TP] | None]:  # noqa: ASYNC109
        if held_back_partitions(self):
            if self.flow_active and not active_partitions(self):
                # Faust would sleep a second here, however soon a buffer drains.
                drained = self._buffer_drained = self._buffer_drained or asyncio.Event()
                drained.clear()
                await wait_at_most(drained, timeout)
                if not active_partitions(self):
                    return {}, set()
            timeout = min(timeout, HELD_BACK_POLL_SECONDS)
        return await super().wait_next_records(timeout)

    def hand_over(self, message: Message) -> Awaitable[object]:
        if self.flow_active:
            return self.callback(message)
        return super().hand_over(message)


class SagaTransport(aiokafka.Transport):
    Consumer: ClassVar[type[ConsumerT]] = SagaConsumer

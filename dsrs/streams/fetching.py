"""How fetched messages reach the agents' streams: Faust's fetch loop, without four tasks per message.

Faust's fetcher hands each message to its stream as `wait_first(callback(message), suspend_flow.wait())`,
so that a delivery blocked on a full stream buffer is abandoned when a rebalance suspends the flow. That
wraps every message in four tasks (the delivery, the suspension, and the service's stopped and crashed
events) and an `asyncio.wait`, and takes two or three turns of the event loop. On this project's 2-core
machine a do-nothing agent cost 163-194 µs of CPU a message with it and 77-79 µs without it. Worse, the
number of loop turns a message needs is what limits delivery on a busy worker: once the stages fell a few
hundred messages behind at a steady half load, their batches grew, each turn of the loop got longer, the
fetcher delivered fewer messages a second, and the saga stayed 5-7 s behind for good.

While the flow is active the delivery is awaited directly; it returns at once unless the stream's buffer
is full (with dsrs.streams.buffers, only at its backstop), and a rebalance clears the buffers (freeing
it) or stops the fetcher (cancelling it). When the flow is suspended, the message goes Faust's way.

Partitions held back. When a stream's buffer fills past Faust's high-water mark, Faust stops asking for
that partition's records until the buffer drains, but the records aiokafka already fetched for it stay
in aiokafka's buffer, and aiokafka sends no fetch to a broker while any of its partitions holds records
younger than its prefetch backoff. So one held-back partition could stall every partition on the broker:
Faust's request for the others waited, up to its 1 s timeout, and with every partition held back Faust
slept a second. A do-nothing agent on the worker's buffers took 1,890 messages/s. While partitions are
held back, the consumer now asks again every HELD_BACK_POLL_SECONDS, and with all of them held back it
waits for a buffer to drain instead of sleeping: 27,000 messages/s. (Asking every 0.1 s still gave
1,940; how that meets aiokafka's 0.1 s backoff and 0.5 s fetch wait was not worked out.)
"""

from __future__ import annotations

import asyncio
from typing import ClassVar, cast

from faust.transport.consumer import CONSUMER_FETCHING, RecordMap
from faust.transport.drivers import aiokafka
from faust.types import TP, ConsumerT
from mode import Service, ServiceT

from dsrs.waiting import wait_at_most

# How often the consumer asks for records while some partition is held back by its stream's buffer.
HELD_BACK_POLL_SECONDS = 0.02


class SagaConsumer(aiokafka.Consumer):
    _buffer_drained: asyncio.Event | None = None

    def on_buffer_drop(self, tp: TP) -> None:
        super().on_buffer_drop(tp)
        if self._buffer_drained is not None:
            self._buffer_drained.set()

    # Faust's signature, timeout included.
    async def _wait_next_records(self, timeout: float) -> tuple[RecordMap | None, set[TP] | None]:  # noqa: ASYNC109
        if self._buffered_partitions:
            if self.flow_active and not self._get_active_partitions():
                # Faust would sleep a second here, however soon a buffer drains.
                drained = self._buffer_drained = self._buffer_drained or asyncio.Event()
                drained.clear()
                await wait_at_most(drained, timeout)
                if not self._get_active_partitions():
                    return {}, set()
            timeout = min(timeout, HELD_BACK_POLL_SECONDS)
        return await super()._wait_next_records(timeout)

    async def _drain_messages(self, fetcher: ServiceT) -> None:
        """faust-streaming 0.15's `Consumer._drain_messages`; only the hand-over of each message differs."""
        callback = self.callback
        getmany = self.getmany
        consumer_should_stop = cast(Service, self)._stopped.is_set
        fetcher_should_stop = cast(Service, fetcher)._stopped.is_set
        get_read_offset = self._read_offset.__getitem__
        set_read_offset = self._read_offset.__setitem__
        commit_every = self._commit_every
        acks_enabled_for = self.app.topics.acks_enabled_for
        yield_every = 100
        num_since_yield = 0
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                self.diag.set_flag(CONSUMER_FETCHING)
                messages = getmany(timeout=1.0)
                # getmany can return at once again and again: let the loop run in between.
                await self.sleep(0)
                if not self.should_stop:
                    async for tp, message in messages:
                        num_since_yield += 1
                        if num_since_yield > yield_every:
                            await asyncio.sleep(0)
                            num_since_yield = 0
                        offset = message.offset
                        read_offset = get_read_offset(tp)
                        if read_offset is None or offset >= read_offset:
                            gap = offset - (read_offset or 0)
                            if gap > 1 and read_offset and acks_enabled_for(message.topic):
                                await self._add_gap(tp, read_offset + 1, offset)
                            if commit_every is not None and self._n_acked >= commit_every:
                                self._n_acked = 0
                                await self.commit()
                            if self.flow_active:
                                await callback(message)
                            else:
                                await self.wait_first(callback(message), self.suspend_flow.wait())
                            set_read_offset(tp, offset)
                        else:
                            self.log.dev("DROPPED MESSAGE ROFF %r: k=%r v=%r", offset, message.key, message.value)
                    self.diag.unset_flag(CONSUMER_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                self.log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            self.diag.unset_flag(CONSUMER_FETCHING)


class SagaTransport(aiokafka.Transport):
    Consumer: ClassVar[type[ConsumerT]] = SagaConsumer

"""Batches that grow with a backlog: Faust's `take_events`, but a batch is not cut short while behind.

Faust's `take_events(max_, within)` hands over whatever reached the stream `within` seconds after the
previous batch was done. Messages reach a stream one at a time through Faust's fetcher, on the same
event loop as every agent and the relay, so on a busy worker only a few dozen arrive in that time, and
the stages pay their fixed cost per batch (a transaction) far more often than needed, taking that time
from the fetcher. Here `within` is how long a batch waits for messages when the stream is caught up.
While the messages known to wait behind the batch's newest, in the partitions it holds, would fill it or
are at least as many as it already has, the batch goes on filling, up to `max_` or for at most
BACKLOG_WAIT_SECONDS more: that is a backlog, and a full batch costs a fraction of the CPU per message.

A steady stream is not a backlog, though it is always a little behind: waiting whenever anything at all
was behind would hold every batch of a steady load for the whole extra wait.

A batch takes what its stream's buffer holds in one step of the event loop. Faust's stream iterator
hands events over one at a time, with a turn of the event loop for each (`await sleep(0)`), so a batch
of 500 waits for 500 turns, and on a busy worker each turn runs whatever else is ready. Here a batch is
filled straight from the buffer, with the bookkeeping Faust's iterator does for each event (reached
through dsrs.streams.faust_internals): a message fetched before a rebalance is dropped, the consumer
tracks each message until it is acknowledged, sensors see it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable
from typing import Any, cast

import faust
from faust.types import TP, ChannelT, EventT

from dsrs.streams.faust_internals import finalize_stream, stop_channel_iteration, stream_event_in_sensor

# How much longer a batch may keep filling while its stream is behind.
BACKLOG_WAIT_SECONDS = 0.25
# While a batch fills (its window, then behind a backlog), how often to look what reached the buffer.
TOP_UP_SECONDS = 0.005


def waiting_after(offset: int, highwater: int | None) -> int:
    """How many messages the partition holds after `offset` (`highwater` is the next offset to be written)."""
    return 0 if highwater is None else max(0, highwater - offset - 1)


def is_backlog(held: int, waiting: int, capacity: int) -> bool:
    """Whether what waits behind a batch holding `held` would fill it, or at least double it."""
    return 0 < held < capacity and waiting >= min(held, capacity - held)


class SagaStream(faust.Stream[Any]):
    async def take_waiting(self, max_: int, within: float) -> AsyncGenerator[list[EventT[Any]], None]:
        """Yield batches of up to `max_` events, acknowledged only once the caller is done with each.

        A batch takes what its stream's buffer holds in one step of the event loop (see the module's
        docstring); it keeps the bookkeeping Faust's stream iterator does for each event it hands over.
        """
        # An agent's stream reads its own iterator over the topic (Faust casts it the same way).
        channel = cast(ChannelT[Any], self.channel)
        buffer = channel.queue
        app = self.app
        consumer = app.consumer
        acking_topics = app.topics.acking_topics
        on_stream_event_in = stream_event_in_sensor(self)
        loop = asyncio.get_running_loop()
        events: list[EventT[Any]] = []
        # The newest offset in the batch of each partition it holds, to count what waits behind it.
        newest: dict[TP, int] = {}

        def accept(value: Any) -> None:
            if not isinstance(value, EventT):
                raise RuntimeError("take_waiting: a buffered value has no event")
            message = value.message
            if not app.flow_control.is_active() or message.generation_id != app.consumer_generation_id:
                # As Faust's iterator does: fetched before a rebalance, it is read again from the
                # committed offset by whoever holds its partition now.
                return
            if message.topic in acking_topics and not message.tracked:
                message.tracked = True
                consumer.track_message(message)
            on_stream_event_in(message.tp, message.offset, self, value)
            self.events_total += 1
            events.append(value)
            newest[message.tp] = message.offset

        def take_buffered() -> None:
            while len(events) < max_ and not buffer.empty():
                accept(buffer.get_nowait())

        async def top_up_until(deadline: float, waiting: Callable[[], bool]) -> None:
            while waiting() and not self.should_stop and loop.time() < deadline:
                await asyncio.sleep(TOP_UP_SECONDS)
                take_buffered()

        def keep_filling() -> bool:
            highwater = consumer.highwater
            waiting = sum(waiting_after(offset, highwater(tp)) for tp, offset in newest.items())
            return is_backlog(len(events), waiting, max_)

        # Acknowledged here, after the caller is done with the batch, not by the stream as it iterates.
        self.enable_acks = False
        finalize_stream(self)
        started_here = await self.maybe_start()
        try:
            while not self.should_stop:
                window_opened = loop.time()
                take_buffered()
                if not events:
                    first = await self.wait(buffer.get())
                    if first.stopped:
                        break
                    accept(first.result)
                    take_buffered()
                    window_opened = loop.time()
                await top_up_until(window_opened + within, lambda: len(events) < max_)
                await top_up_until(loop.time() + BACKLOG_WAIT_SECONDS, keep_filling)
                if not events:
                    continue
                batch = list(events)
                events.clear()
                newest.clear()
                try:
                    yield batch
                finally:
                    for event in batch:
                        await self.ack(event)
        except StopAsyncIteration:
            # How Faust ends a channel's iteration (it throws this into the buffer), as its iterator does.
            return
        finally:
            stop_channel_iteration(self, channel)
            if started_here:
                await self.stop()
                self.service_reset()

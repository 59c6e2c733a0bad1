"""Batches that grow with a backlog: Faust's `take_events`, but a batch is not cut short while behind.

Faust's `take_events(max_, within)` hands over whatever reached the stream `within` seconds after the
previous batch was done. Messages reach a stream one at a time through Faust's fetcher, on the same
event loop as every agent and the relay, so on a busy worker only a few dozen arrive in that time:
with 20,000 households waiting on the intake topic, the stages still ran batches of 25-45, paid their
fixed cost per batch (a transaction, ~2 ms of the loop) ten times as often as needed, and the time that
cost was taken from the fetcher, which then delivered even fewer. Here `within` is how long a batch
waits for messages when the stream is caught up. While the messages known to wait behind the batch's
newest, in the partitions it holds, would fill it or are at least as many as it already has, the batch
goes on filling, up to `max_` or for at most BACKLOG_WAIT_SECONDS more: that is a backlog, and a full
batch costs a fraction of the CPU per message.

A steady stream is not a backlog, though it is always a little behind: waiting whenever anything at all
was behind would hold every batch of a steady load for the whole extra wait once the stages fell a little
behind. (The half-load runs that stayed 5-7 s behind were first blamed on that; with this rule alone they
still did. What ended it was the fetcher's hand-over of each message: see dsrs.streams.fetching.)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, cast

import faust
from faust.types import TP, ChannelT, EventT
from mode.utils.futures import notify

# How much longer a batch may keep filling while its stream is behind.
BACKLOG_WAIT_SECONDS = 0.25
# While filling behind a backlog, how often to look whether the batch is full or caught up.
TOP_UP_SECONDS = 0.005


def waiting_after(offset: int, highwater: int | None) -> int:
    """How many messages the partition holds after `offset` (`highwater` is the next offset to be written)."""
    return 0 if highwater is None else max(0, highwater - offset - 1)


def is_backlog(held: int, waiting: int, capacity: int) -> bool:
    """Whether what waits behind a batch holding `held` would fill it, or at least double it."""
    return 0 < held < capacity and waiting >= min(held, capacity - held)


class SagaStream(faust.Stream[Any]):
    async def take_waiting(self, max_: int, within: float) -> AsyncIterator[list[EventT[Any]]]:
        """Yield batches of up to `max_` events, acknowledged only once the caller is done with each.

        The body follows faust-streaming 0.15's `Stream.take_events`, whose acknowledgement and
        back-pressure rules it keeps; only how long a batch goes on filling differs.
        """
        # An agent's stream reads its own iterator over the topic (Faust casts it the same way).
        channel = cast(ChannelT[Any], self.channel)
        events: list[EventT[Any]] = []
        # The newest offset in the batch of each partition it holds, to count what waits behind it.
        newest: dict[TP, int] = {}
        buffer_full = asyncio.Event()
        buffer_consumed = asyncio.Event()
        # Set while the caller holds a batch, so the background drainer adds nothing to it meanwhile.
        buffer_consuming: asyncio.Future[None] | None = None

        async def add_to_buffer(value: Any) -> Any:
            nonlocal buffer_consuming
            try:
                if buffer_consuming is not None:
                    try:
                        await buffer_consuming
                    finally:
                        buffer_consuming = None
                event = self.current_event
                if event is None:
                    raise RuntimeError("take_waiting: a buffered value has no current event")
                events.append(event)
                newest[event.message.tp] = event.message.offset
                if len(events) >= max_:
                    buffer_full.set()
                    buffer_consumed.clear()
                    # Strictly at most `max_` per batch: wait until the caller has taken this one.
                    await self.wait(buffer_consumed)  # type: ignore[arg-type]
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self.log.exception("Error adding to take buffer: %r", error)
                await self.crash(error)
            return value

        def keep_filling(deadline: float) -> bool:
            if not events or buffer_full.is_set() or self.should_stop or self.loop.time() >= deadline:
                return False
            highwater = self.app.consumer.highwater
            waiting = sum(waiting_after(offset, highwater(tp)) for tp, offset in newest.items())
            return is_backlog(len(events), waiting, max_)

        # Acknowledged here, after the caller is done with the batch, not by the stream as it iterates.
        self.enable_acks = False
        self.add_processor(add_to_buffer)
        self._enable_passive(channel)
        while not self.should_stop:
            await self.wait_for_stopped(buffer_full, timeout=within)  # type: ignore[arg-type]
            deadline = self.loop.time() + BACKLOG_WAIT_SECONDS
            while keep_filling(deadline):
                await self.wait_for_stopped(buffer_full, timeout=TOP_UP_SECONDS)  # type: ignore[arg-type]
            if not events:
                continue
            buffer_consuming = self.loop.create_future()
            try:
                yield list(events)
            finally:
                for event in events:
                    await self.ack(event)
                events.clear()
                newest.clear()
                notify(buffer_consuming)
                buffer_full.clear()
                buffer_consumed.set()

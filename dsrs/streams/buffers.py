"""Where a fetched message waits for its agent: a stream buffer that holds its partitions back at
`stream_buffer_maxsize` but does not stop the fetcher there.

Faust delivers every fetched message, for every stream, in one loop. A message for a stream whose buffer
is full waits until that stream takes from it, and every message behind it waits too, whichever stream
it is for. Faust stops fetching a partition once its stream's buffer is 80% full, but the records it
had already fetched for it still go through that loop, so at full speed the loop spends much of its
time waiting on one full buffer after another while the other stages wait for batches.

Here a stream's buffer holds its partitions back at the same size, and takes what was fetched before
that without waiting: at most one fetch per partition (`consumer_max_fetch_size`), which is in memory
either way, in the fetch loop's hands or in the buffer. BACKSTOP_FACTOR bounds it, should anything
deliver more: at that size, delivery waits as Faust's does.
"""

from __future__ import annotations

import math
from typing import Any

import faust
from mode.utils.objects import cached_property
from mode.utils.queues import FlowControlEvent, ThrowableQueue

from dsrs.streams.faust_internals import channel_queue, set_channel_queue

# How many times `stream_buffer_maxsize` a buffer may hold before delivery to it waits.
BACKSTOP_FACTOR = 8


class StreamBuffer(ThrowableQueue[Any]):
    """Holds its partitions back (Faust's pressure) by `holding_size`; full only at BACKSTOP_FACTOR times that."""

    def __init__(self, holding_size: int, *, flow_control: FlowControlEvent, clear_on_resume: bool) -> None:
        self.holding_size = holding_size
        super().__init__(
            maxsize=holding_size * BACKSTOP_FACTOR, flow_control=flow_control, clear_on_resume=clear_on_resume
        )

    @cached_property
    def pressure_high_size(self) -> int:
        return math.floor(self.holding_size / self.pressure_high_ratio)

    @cached_property
    def pressure_drop_size(self) -> int:
        return math.floor(self.holding_size * self.pressure_drop_ratio)


class SagaTopic(faust.Topic):
    """A topic whose streams read from a StreamBuffer."""

    @property
    def queue(self) -> ThrowableQueue[Any]:
        queue = channel_queue(self)
        if queue is None:
            holding_size = self.maxsize if self.maxsize is not None else self.app.conf.stream_buffer_maxsize
            queue = StreamBuffer(holding_size, flow_control=self.app.flow_control, clear_on_resume=True)
            set_channel_queue(self, queue)
        return queue

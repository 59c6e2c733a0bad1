"""Table writes outside Faust's own stream iteration, in the context of the event that caused them.

Faust's RocksDB store files a key under the partition of the *current event*, and the changelog
goes to the same partition. Our agents process whole batches in a task of their own, where no
event is current; so the writer names the event. Faust offers no public setter for this, hence
dsrs.streams.faust_internals.as_current_event.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from dsrs.streams.faust_internals import as_current_event


@contextmanager
def event_context(event: object | None) -> Iterator[None]:
    if event is None:
        raise RuntimeError("a table write needs the event that caused it")
    with as_current_event(event):
        yield

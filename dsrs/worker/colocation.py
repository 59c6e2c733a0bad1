"""A household's registration, assessment and payment in one transaction, when one worker runs them all.

The intake agent's batch is applied by the registry, and the events it writes that eligibility consumes are
applied by eligibility in the same transaction; so are the decisions, by payments. Every event still goes to the
outbox for every other consumer (DCI notify, analytics, partners), marked with the stages that applied it
(dsrs.events.applied), whose agents then skip it. That saves each household two trips through Kafka, two
agents' batches and their claims, and the wait for each.

A downstream stage runs inside a savepoint. If it fails for a reason no retry would cure (an assessment too
large for its column, an unknown program), the savepoint is rolled back and its events go out unmarked: its own
agent applies them as ever, and dead-letters the one at fault with the reason. A transient failure fails the
batch, which is retried whole.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Protocol, runtime_checkable

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dsrs.events.incoming import Incoming
from dsrs.outbox.writer import OutgoingEvent, add_events
from dsrs.streams.errors import is_transient
from dsrs.streams.processing import Decoded, claimed, event_id_of

log = logging.getLogger(__name__)


class FirstStage(Protocol):
    """The stage whose agent reads the batch: the registry's intake."""

    consumer: str

    def decode(self, message: Incoming) -> Any: ...

    async def apply(self, connection: AsyncConnection, items: Sequence[Any]) -> list[OutgoingEvent]: ...


class FollowingStage(FirstStage, Protocol):
    """A stage that can take, in the same transaction, the events an earlier one wrote."""

    def item_of(self, event: OutgoingEvent) -> Any | None: ...


@runtime_checkable
class CountsCommitted(Protocol):
    def committed(self, events: Sequence[OutgoingEvent]) -> None: ...


class ColocatedStages:
    """The first stage's agent handler, applying the following stages to what each one before wrote."""

    def __init__(self, engine: AsyncEngine, first: FirstStage, following: Sequence[FollowingStage]) -> None:
        self.engine = engine
        self.first = first
        self.following = tuple(following)
        self.consumer = first.consumer

    def decode(self, message: Incoming) -> Any:
        return self.first.decode(message)

    async def handle(self, batch: Sequence[Decoded[Any]]) -> None:
        applied: list[tuple[CountsCommitted, list[OutgoingEvent]]] = []
        async with claimed(self.engine, self.consumer, (d.item for d in batch), event_id_of) as (connection, fresh):
            events = await self.first.apply(connection, fresh)
            for stage in self.following:
                events, produced = await self._follow(connection, stage, events)
                if isinstance(stage, CountsCommitted):
                    applied.append((stage, produced))
            await add_events(connection, events)
        for counting, produced in applied:
            counting.committed(produced)

    async def _follow(
        self, connection: AsyncConnection, stage: FollowingStage, events: list[OutgoingEvent]
    ) -> tuple[list[OutgoingEvent], list[OutgoingEvent]]:
        """`events` (those `stage` applied marked so) followed by the events `stage` wrote, and those alone."""
        taken = [(index, item) for index, event in enumerate(events) if (item := stage.item_of(event)) is not None]
        if not taken:
            return events, []
        try:
            async with connection.begin_nested():
                produced = await stage.apply(connection, [item for _, item in taken])
        except Exception as error:
            if is_transient(error):
                raise
            log.warning(
                "%s: %s applying %d events in the %s batch; its agent applies them instead",
                stage.consumer,
                type(error).__name__,
                len(taken),
                self.consumer,
            )
            return events, []
        marked = list(events)
        for index, _ in taken:
            marked[index] = replace(events[index], applied_by=(*events[index].applied_by, stage.consumer))
        return marked + produced, produced

"""Provider statements that arrive as events (one event per statement) are reconciled like CSV files."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from dsrs.events import topics
from dsrs.events.envelope import InvalidEvent, decode_envelope_of
from dsrs.events.incoming import Incoming
from dsrs.payment.reconciliation import StatementLine, count_mismatches, parse_line, reconcile
from dsrs.streams.processing import Decoded, claimed, event_id_of


@dataclass(frozen=True)
class Statement:
    event_id: str
    source: str
    lines: tuple[StatementLine, ...]
    as_of: date


class StatementHandler:
    consumer = "payment-statement"

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    def decode(self, message: Incoming) -> Statement:
        envelope = decode_envelope_of(message.value, topics.PROVIDER_STATEMENT)
        raw_lines = envelope.data.get("lines")
        if not isinstance(raw_lines, list):
            raise InvalidEvent("data.lines: must be a list of statement lines")
        lines = tuple(parse_line(line, number) for number, line in enumerate(raw_lines, start=1))
        as_of = envelope.data.get("as_of")
        return Statement(
            envelope.event_id,
            f"event {envelope.event_id} from {envelope.source}",
            lines,
            date.fromisoformat(as_of) if isinstance(as_of, str) else datetime.now(UTC).date(),
        )

    async def handle(self, batch: Sequence[Decoded[Statement]]) -> None:
        reports = []
        async with claimed(self.engine, self.consumer, (d.item for d in batch), event_id_of) as (connection, fresh):
            for statement in fresh:
                reports.append(await reconcile(connection, statement.lines, statement.source, statement.as_of))
        for report in reports:
            count_mismatches(report)

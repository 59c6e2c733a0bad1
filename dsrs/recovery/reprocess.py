"""The reprocess agent's stage: it reads every `.dlq` topic and records each letter with its state.

A letter whose message the agent itself sent back (it carries RETRY_OF) and that failed again is not
a new letter: the letter it came from is parked until what caused it changes once more.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from dsrs.dlq.causes import CAUSES, CONTENT, RELEASE
from dsrs.dlq.letters import PARKED, Letter, event_id_in, record_letters
from dsrs.dlq.publisher import HEADER_PREFIX, RETRY_OF
from dsrs.events.incoming import Incoming
from dsrs.monitoring.metrics import DLQ_LETTERS_PARKED
from dsrs.streams.processing import Decoded

PARK_RETRIED = text(
    """
    UPDATE dead_letters SET state = 'parked', updated_at = now()
    WHERE letter_id = ANY(:ids) AND state = 'retried'
    RETURNING letter_id, cause
    """
)


@dataclass(frozen=True)
class Seen:
    letter: Letter
    retry_of: str | None


def _int(value: str | None) -> int:
    try:
        return int(value or "")
    except ValueError:
        return -1


def _cause(declared: str | None, error_class: str) -> str:
    if declared in CAUSES:
        return declared
    # Letters written before causes were recorded: a malformed event is content, the rest may pass later.
    return CONTENT if error_class.endswith("InvalidEvent") else RELEASE


class DeadLetterHandler:
    consumer = "dlq-reprocess"

    def __init__(self, engine: AsyncEngine, contexts: Mapping[str, str]) -> None:
        self.engine = engine
        self.contexts = contexts
        # Every series exists from the start, at zero: "nothing parked" shows as 0, not as no data.
        for cause in CAUSES:
            DLQ_LETTERS_PARKED.labels(cause=cause)

    def decode(self, message: Incoming) -> Seen:
        """Any message is a letter: nothing on a dead-letter topic is refused."""
        reason = {
            name[len(HEADER_PREFIX) :]: message.header(name)
            for name in message.headers
            if name.startswith(HEADER_PREFIX)
        }
        error_class = reason.get("error-class") or "unknown"
        cause = _cause(reason.get("cause"), error_class)
        original_topic = reason.get("original-topic") or message.topic.removesuffix(".dlq")
        letter = Letter(
            letter_id=f"{message.topic}:{message.partition}:{message.offset}",
            original_topic=original_topic,
            original_partition=_int(reason.get("original-partition")),
            original_offset=_int(reason.get("original-offset")),
            consumer=reason.get("consumer") or None,
            event_id=event_id_in(message.value),
            error_class=error_class,
            error_message=reason.get("error-message") or "",
            cause=cause,
            context=self.contexts.get(cause, ""),
            key=message.key,
            value=message.value,
            headers=[
                (name, value)
                for name, value in message.headers.items()
                if not name.startswith(HEADER_PREFIX) and name != RETRY_OF
            ],
        )
        return Seen(letter, message.header(RETRY_OF))

    async def handle(self, batch: Sequence[Decoded[Seen]]) -> None:
        retries = {seen.item.retry_of: seen.item.letter for seen in batch if seen.item.retry_of}
        async with self.engine.begin() as connection:
            parked = (await connection.execute(PARK_RETRIED, {"ids": list(retries)})).all() if retries else []
            # A retry of a letter this agent does not hold (or no longer waits for) is a letter of its own.
            known = {row.letter_id for row in parked}
            fresh = [seen.item.letter for seen in batch if seen.item.retry_of not in known]
            recorded = await record_letters(connection, fresh)
        for row in parked:
            DLQ_LETTERS_PARKED.labels(cause=row.cause).inc()
        for letter in recorded:
            if letter.first_state == PARKED:
                DLQ_LETTERS_PARKED.labels(cause=letter.cause).inc()

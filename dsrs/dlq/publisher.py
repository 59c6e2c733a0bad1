"""Sends a message that cannot be processed to its topic's `.dlq` twin, unchanged, with why in its headers.

A letter that the dead-letter topic cannot take (too large with its headers) is held in PostgreSQL's
`dead_letters` table instead, whole, so that no message is ever dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from aiokafka import AIOKafkaProducer
from aiokafka.errors import MessageSizeTooLargeError, RecordListTooLargeError, RecordTooLargeError
from sqlalchemy.ext.asyncio import AsyncEngine

from dsrs.dlq.causes import RELEASE
from dsrs.dlq.letters import Letter, event_id_in, record_letters
from dsrs.events.incoming import Incoming
from dsrs.events.topics import dead_letter_topic
from dsrs.monitoring.metrics import DLQ_HELD_IN_DATABASE
from dsrs.monitoring.scrubbing import scrub

HEADER_PREFIX = "dsrs-dlq-"
# Carried by a message the reprocess agent sent back, naming the letter it came from.
RETRY_OF = "dsrs-retry-of"
TOO_LARGE = (MessageSizeTooLargeError, RecordTooLargeError, RecordListTooLargeError)


@dataclass(frozen=True)
class Failure:
    error_class: str
    message: str
    attempts: int
    first_failure: datetime
    consumer: str = ""
    cause: str = RELEASE

    @property
    def scrubbed_message(self) -> str:
        return scrub(self.message)[:2000]


def dead_letter_headers(message: Incoming, failure: Failure) -> list[tuple[str, bytes]]:
    reason = {
        "error-class": failure.error_class,
        "error-message": failure.scrubbed_message,
        "attempts": str(failure.attempts),
        "original-topic": message.topic,
        "original-partition": str(message.partition),
        "original-offset": str(message.offset),
        "first-failure-time": failure.first_failure.isoformat(),
        "consumer": failure.consumer,
        "cause": failure.cause,
    }
    # The original headers (the traceparent among them) travel on, so a replay stays in its trace.
    original = [(name, value) for name, value in message.headers.items() if not name.startswith(HEADER_PREFIX)]
    return original + [(HEADER_PREFIX + name, value.encode()) for name, value in reason.items()]


@dataclass
class DeadLetterPublisher:
    producer: AIOKafkaProducer
    # Where letters too large for their topic are held; without it such a letter is an error.
    engine: AsyncEngine | None = None
    # Each cause's fingerprint now (dsrs.recovery.contexts), recorded with a letter held in the database.
    contexts: Mapping[str, str] = field(default_factory=dict)
    sent: int = 0
    held: int = 0

    async def send(self, message: Incoming, failure: Failure) -> None:
        """Returns once the broker (or PostgreSQL) has the dead letter, so the original may then be acknowledged."""
        headers = dead_letter_headers(message, failure)
        try:
            await self.producer.send_and_wait(
                dead_letter_topic(message.topic), message.value, key=message.key, headers=headers
            )
        except TOO_LARGE:
            if self.engine is None:
                raise
            await self._hold(message, failure, headers)
            return
        self.sent += 1

    async def _hold(self, message: Incoming, failure: Failure, headers: list[tuple[str, bytes]]) -> None:
        letter = Letter(
            letter_id=f"db:{message.topic}:{message.partition}:{message.offset}",
            original_topic=message.topic,
            original_partition=message.partition,
            original_offset=message.offset,
            consumer=failure.consumer or None,
            event_id=event_id_in(message.value),
            error_class=failure.error_class,
            error_message=failure.scrubbed_message,
            cause=failure.cause,
            context=self.contexts.get(failure.cause, ""),
            key=message.key,
            value=message.value,
            headers=[(name, value) for name, value in headers if not name.startswith(HEADER_PREFIX)],
            held_in_database=True,
        )
        assert self.engine is not None
        async with self.engine.begin() as connection:
            await record_letters(connection, [letter])
        self.held += 1
        DLQ_HELD_IN_DATABASE.inc()

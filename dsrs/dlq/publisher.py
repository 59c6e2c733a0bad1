"""Sends a message that cannot be processed to its topic's `.dlq` twin, unchanged, with why in its headers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from aiokafka import AIOKafkaProducer

from dsrs.events.incoming import Incoming
from dsrs.events.topics import dead_letter_topic
from dsrs.monitoring.scrubbing import scrub

HEADER_PREFIX = "dsrs-dlq-"


@dataclass(frozen=True)
class Failure:
    error_class: str
    message: str
    attempts: int
    first_failure: datetime


def dead_letter_headers(message: Incoming, failure: Failure) -> list[tuple[str, bytes]]:
    reason = {
        "error-class": failure.error_class,
        "error-message": scrub(failure.message)[:2000],
        "attempts": str(failure.attempts),
        "original-topic": message.topic,
        "original-partition": str(message.partition),
        "original-offset": str(message.offset),
        "first-failure-time": failure.first_failure.isoformat(),
    }
    # The original headers (the traceparent among them) travel on, so a replay stays in its trace.
    original = [(name, value) for name, value in message.headers.items() if not name.startswith(HEADER_PREFIX)]
    return original + [(HEADER_PREFIX + name, value.encode()) for name, value in reason.items()]


class DeadLetterPublisher:
    def __init__(self, producer: AIOKafkaProducer) -> None:
        self.producer = producer
        self.sent = 0

    async def send(self, message: Incoming, failure: Failure) -> None:
        """Returns once the broker has the dead letter, so the original may then be acknowledged."""
        await self.producer.send_and_wait(
            dead_letter_topic(message.topic),
            message.value,
            key=message.key,
            headers=dead_letter_headers(message, failure),
        )
        self.sent += 1

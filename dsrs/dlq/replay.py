"""Reading dead-letter topics and replaying their messages to the topics they came from.

A replay republishes the original message (key, value and headers, its traceparent among them);
its event id is unchanged, so a consumer that has processed it meanwhile ignores it. Each dead
letter is replayed at most once: the replay is recorded by its DLQ coordinates first, and a
second request for the same letter does nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from dsrs.db.schema import dlq_replays
from dsrs.dlq.letters import mark_retried
from dsrs.dlq.publisher import HEADER_PREFIX
from dsrs.kafka.lag import topic_partitions


@dataclass(frozen=True)
class DeadLetter:
    dlq_topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    @property
    def id(self) -> str:
        return f"{self.dlq_topic}:{self.partition}:{self.offset}"

    def reason(self, name: str) -> str | None:
        for header, value in self.headers:
            if header == HEADER_PREFIX + name:
                return value.decode(errors="replace")
        return None

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "original_topic": self.reason("original-topic"),
            "original_partition": self.reason("original-partition"),
            "original_offset": self.reason("original-offset"),
            "error_class": self.reason("error-class"),
            "error_message": self.reason("error-message"),
            "attempts": self.reason("attempts"),
            "first_failure_time": self.reason("first-failure-time"),
        }


async def read_dead_letters(bootstrap_servers: str, topics: Iterable[str], **options: Any) -> list[DeadLetter]:
    """Every message currently held in these dead-letter topics, oldest first per partition."""
    partitions = await topic_partitions(bootstrap_servers, topics, **options)
    if not partitions:
        return []
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, enable_auto_commit=False, auto_offset_reset="earliest", **options
    )
    await consumer.start()
    letters: list[DeadLetter] = []
    try:
        consumer.assign(partitions)
        starts = await consumer.beginning_offsets(partitions)
        ends = await consumer.end_offsets(partitions)
        for tp in partitions:
            consumer.seek(tp, starts[tp])
        remaining = {tp for tp in partitions if ends[tp] > starts[tp]}
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=2000)
            if not batch:
                break
            for tp, records in batch.items():
                for record in records:
                    letters.append(
                        DeadLetter(
                            tp.topic, tp.partition, record.offset, record.key, record.value, tuple(record.headers)
                        )
                    )
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
    return letters


async def replay(
    engine: AsyncEngine, producer: AIOKafkaProducer, letters: Iterable[DeadLetter], replayed_by: str
) -> list[DeadLetter]:
    """Republish each letter to its original topic, once; returns the letters replayed by this call."""
    replayed = []
    for letter in letters:
        original = letter.reason("original-topic")
        if original is None:
            continue
        async with engine.begin() as connection:
            first_time = await connection.scalar(
                insert(dlq_replays)
                .values(
                    dlq_topic=letter.dlq_topic,
                    partition=letter.partition,
                    dlq_offset=letter.offset,
                    replayed_by=replayed_by,
                )
                .on_conflict_do_nothing()
                .returning(dlq_replays.c.dlq_offset)
            )
            if first_time is None:
                continue
            headers = [(name, value) for name, value in letter.headers if not name.startswith(HEADER_PREFIX)]
            headers.append((HEADER_PREFIX + "replay-of", letter.id.encode()))
            # Inside the transaction: if publishing fails, the replay is not recorded and may be tried again.
            await producer.send_and_wait(original, letter.value, key=letter.key, headers=headers)
            await mark_retried(connection, [letter.id])
        replayed.append(letter)
    return replayed


def select_letters(letters: Iterable[DeadLetter], letter_id: str | None) -> list[DeadLetter]:
    return [letter for letter in letters if letter_id is None or letter.id == letter_id]

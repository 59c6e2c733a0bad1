"""Dead letters as PostgreSQL keeps them (table `dead_letters`): one row a letter, with its state.

A letter is recorded once by its id; recording it again changes nothing. The original message is kept
with it, so that the reprocess agent can retry it without reading the dead-letter topic again.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dsrs.db.schema import dead_letters
from dsrs.dlq.causes import CONTENT

WAITING, RETRIED, RECOVERED, PARKED = "waiting", "retried", "recovered", "parked"


@dataclass(frozen=True)
class Letter:
    letter_id: str
    original_topic: str
    original_partition: int
    original_offset: int
    consumer: str | None
    event_id: uuid.UUID | None
    error_class: str
    error_message: str
    cause: str
    context: str
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]
    held_in_database: bool = False

    @property
    def first_state(self) -> str:
        """What can never pass as it is waits for a person; the rest waits for what it needs to change."""
        return PARKED if self.cause == CONTENT else WAITING

    def row(self) -> dict[str, Any]:
        return {
            "letter_id": self.letter_id,
            "original_topic": self.original_topic,
            "original_partition": self.original_partition,
            "original_offset": self.original_offset,
            "consumer": self.consumer,
            "event_id": self.event_id,
            "error_class": self.error_class,
            "error_message": self.error_message,
            "cause": self.cause,
            "context": self.context,
            "state": self.first_state,
            "held_in_database": self.held_in_database,
            "message_key": self.key,
            "message_value": self.value,
            "headers": encode_headers(self.headers),
        }


def encode_headers(headers: Sequence[tuple[str, bytes]]) -> list[list[str]]:
    return [[name, base64.b64encode(value).decode()] for name, value in headers]


def decode_headers(stored: Sequence[Sequence[str]]) -> list[tuple[str, bytes]]:
    return [(str(name), base64.b64decode(value)) for name, value in stored]


def event_id_in(value: bytes | None) -> uuid.UUID | None:
    """The event id of a message that is an event (or a bundle of them: its first), if it has a valid one."""
    try:
        document = orjson.loads(value or b"")
    except orjson.JSONDecodeError:
        return None
    if isinstance(document, list) and document:
        document = document[0]
    candidate = document.get("event_id") if isinstance(document, Mapping) else None
    try:
        return uuid.UUID(str(candidate)) if candidate is not None else None
    except ValueError:
        return None


async def record_letters(connection: AsyncConnection, letters: Sequence[Letter]) -> list[Letter]:
    """Record the letters not recorded before; returns those."""
    if not letters:
        return []
    statement = (
        insert(dead_letters)
        .values([letter.row() for letter in letters])
        .on_conflict_do_nothing(index_elements=[dead_letters.c.letter_id])
        .returning(dead_letters.c.letter_id)
    )
    new = set((await connection.execute(statement)).scalars())
    return [letter for letter in letters if letter.letter_id in new]


@dataclass(frozen=True)
class LetterState:
    letter_id: str
    state: str
    cause: str
    attempts: int
    held_in_database: bool
    original_topic: str
    error_class: str
    error_message: str

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.letter_id,
            "state": self.state,
            "cause": self.cause,
            "retries": self.attempts,
            "held_in_database": self.held_in_database,
            "original_topic": self.original_topic,
            "error_class": self.error_class,
            "error_message": self.error_message,
        }


async def letter_states(engine: AsyncEngine) -> dict[str, LetterState]:
    """Every letter the reprocess agent has recorded, by id."""
    columns = [dead_letters.c[name] for name in LetterState.__dataclass_fields__]
    async with engine.connect() as connection:
        rows = (await connection.execute(select(*columns).order_by(dead_letters.c.created_at))).all()
    return {row.letter_id: LetterState(*row) for row in rows}


async def mark_retried(connection: AsyncConnection, letter_ids: Sequence[str]) -> None:
    """A person sent these back (`dsrs dlq replay`): whether they then pass is seen as for the agent's."""
    if letter_ids:
        await connection.execute(
            update(dead_letters)
            .where(dead_letters.c.letter_id.in_(letter_ids))
            .values(state=RETRIED, attempts=dead_letters.c.attempts + 1)
        )

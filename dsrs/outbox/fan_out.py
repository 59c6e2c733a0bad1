"""The relay's one plug point: more messages made from the events it publishes, sent with them.

The outbox knows no domain. The wiring hands a relay a fan-out (analytics hands it its bundles of
KPI events); the relay reads the payload fields the fan-out names and deletes a claim's rows only once
the broker acknowledged both the events and what the fan-out made of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

DATA_FIELD = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclass(slots=True)
class Published:
    """An event as the relay published it: its type, the data fields its fan-out asked for, bytes, headers."""

    event_type: str
    fields: Mapping[str, str | None]
    value: bytes
    headers: Sequence[tuple[str, bytes]]


@dataclass(slots=True)
class Message:
    topic: str
    key: bytes
    value: bytes
    headers: Sequence[tuple[str, bytes]]


class FanOut(Protocol):
    # Names of fields of an event's `data` that `messages` reads, as `Published.fields`.
    data_fields: tuple[str, ...]

    def messages(self, published: Sequence[Published]) -> Iterable[Message]:
        """What to send besides the claim's events; sent in the same claim, before its rows go."""
        ...


def checked_data_fields(fan_out: FanOut | None) -> tuple[str, ...]:
    """The fields to read, each a plain name: they become part of the relay's SQL."""
    fields = () if fan_out is None else fan_out.data_fields
    for name in fields:
        if not DATA_FIELD.match(name):
            raise ValueError(f"fan-out data field {name!r}: expected a lower-case name")
    return fields

"""A consumed Kafka message as the agents hand it on."""

from __future__ import annotations

from dataclasses import dataclass, field

from dsrs.events.applied import APPLIED_BY, applied_by


@dataclass(slots=True)
class Incoming:
    """A consumed Kafka message, as the agents hand it over: raw, so that nothing fails before we look."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: dict[str, bytes]
    # The Faust event it came in as, for the table writes it causes; absent outside a worker.
    origin: object | None = field(default=None, compare=False, repr=False)

    def header(self, name: str) -> str | None:
        value = self.headers.get(name)
        return value.decode(errors="replace") if value is not None else None

    def applied_upstream(self, consumer: str) -> bool:
        """Whether the transaction that wrote this event also applied `consumer`'s effects of it."""
        return APPLIED_BY in self.headers and consumer in applied_by(self.header(APPLIED_BY))

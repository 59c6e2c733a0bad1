"""The envelope every event carries, and its strict decoding from the wire.

On the wire an event is a JSON object: the envelope fields with the event's own fields in `data`.
The W3C `traceparent` travels as a Kafka header, not in the JSON.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from dsrs.events.ids import new_uuid

SCHEMA_VERSION = 1
ENVELOPE_FIELDS = ("event_id", "type", "time", "source", "subject", "schema_version", "data")


class InvalidEvent(ValueError):
    """A message that can never be processed as it is; it belongs in the dead-letter topic."""

    dead_letter_cause = "content"


# A plain dataclass, not a Faust record: every stage builds one per event it reads and per event it emits,
# and a record's field descriptors and coercion cost on each. The agents read raw bytes.
# Not frozen either, like the other objects made per event (Incoming, Decoded, OutgoingEvent, rule
# results...): a frozen dataclass sets each field through the slower object.__setattr__, and a household
# makes dozens of them. They are treated as values all the same.
@dataclass(slots=True)
class Envelope:
    event_id: str
    type: str
    time: datetime
    source: str
    subject: str
    schema_version: int
    data: dict[str, Any]

    def to_document(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "type": self.type,
            "time": self.time.isoformat(),
            "source": self.source,
            "subject": self.subject,
            "schema_version": self.schema_version,
            "data": self.data,
        }

    def to_wire(self) -> bytes:
        return orjson.dumps(self.to_document())


def new_envelope(event_type: str, subject: str, data: dict[str, Any], source: str) -> Envelope:
    return Envelope(
        event_id=new_uuid(),
        type=event_type,
        time=datetime.now(UTC),
        source=source,
        subject=subject,
        schema_version=SCHEMA_VERSION,
        data=data,
    )


def decode_envelope(raw: bytes | None) -> Envelope:
    """Parse and check an event from the wire; anything off is an InvalidEvent saying what."""
    return envelope_of(parse_json(raw))


def decode_envelope_of(raw: bytes | None, *types: str) -> Envelope:
    """`decode_envelope`, and an InvalidEvent unless the event is of one of `types`."""
    envelope = decode_envelope(raw)
    if envelope.type not in types:
        expected = repr(types[0]) if len(types) == 1 else f"one of {types}"
        raise InvalidEvent(f"envelope.type: expected {expected}")
    return envelope


def parse_json(raw: bytes | None) -> Any:
    """A message value as JSON; an InvalidEvent saying why when it is not."""
    if raw is None:
        raise InvalidEvent("message has no value")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise InvalidEvent(f"value is not JSON: {error.msg}") from None


# How DSRS writes ids; consumers compare them as text, so any other spelling of a UUID is rewritten so.
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def canonical_uuid(value: Any) -> str:
    """The event id in lower-case, hyphenated form; an InvalidEvent when it is no UUID."""
    # The pattern first: a canonical id, the usual case, is then not parsed with uuid.UUID and written out again.
    if isinstance(value, str) and _CANONICAL_UUID.fullmatch(value):
        return value
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise InvalidEvent("envelope.event_id: not a UUID") from None


def envelope_of(document: Any) -> Envelope:
    """Check an already parsed event; anything off is an InvalidEvent saying what."""
    if not isinstance(document, dict):
        raise InvalidEvent("value is not a JSON object")
    unknown = sorted(set(document) - set(ENVELOPE_FIELDS))
    missing = [name for name in ENVELOPE_FIELDS if name not in document]
    if unknown or missing:
        raise InvalidEvent(f"envelope: missing {missing}, unknown {unknown}")
    event_id = canonical_uuid(document["event_id"])
    try:
        time = datetime.fromisoformat(str(document["time"]))
    except ValueError:
        raise InvalidEvent("envelope.time: not an ISO 8601 timestamp") from None
    if time.tzinfo is None:
        raise InvalidEvent("envelope.time: needs a time zone offset")
    for name in ("type", "source", "subject"):
        if not isinstance(document[name], str) or not document[name]:
            raise InvalidEvent(f"envelope.{name}: must be a non-empty string")
    if document["schema_version"] != SCHEMA_VERSION:
        raise InvalidEvent(f"envelope.schema_version: {SCHEMA_VERSION} is the only version this worker reads")
    if not isinstance(document["data"], dict):
        raise InvalidEvent("envelope.data: must be a JSON object")
    return Envelope(
        event_id=event_id,
        type=document["type"],
        time=time,
        source=document["source"],
        subject=document["subject"],
        schema_version=SCHEMA_VERSION,
        data=document["data"],
    )

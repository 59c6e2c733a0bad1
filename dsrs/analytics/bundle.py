"""The analytics topic's message: the KPI events of one program and region, as a JSON array of envelopes."""

from __future__ import annotations

from collections.abc import Sequence

from dsrs.analytics.facts import Fact, fact_of
from dsrs.events.envelope import InvalidEvent, envelope_of, parse_json


def encode_bundle(events: Sequence[bytes | None]) -> bytes:
    # The envelopes are already JSON: joined as they are, not parsed and written again.
    return b"[" + b",".join(event or b"null" for event in events) + b"]"


def decode_bundle(raw: bytes | None) -> list[Fact]:
    documents = parse_json(raw)
    if not isinstance(documents, list) or not documents:
        raise InvalidEvent("value is not a non-empty JSON array of events")
    return [fact_of(envelope_of(document)) for document in documents]

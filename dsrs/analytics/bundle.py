"""The analytics topic's message: the KPI events of one program and region, as a JSON array of envelopes.

The outbox relay writes them through `AnalyticsFanOut`: as it publishes a batch of events, the ones
analytics counts also go, grouped by program and region, to the analytics topic, keyed so that one
partition owns every count of a program and region. That is one message per program and region per
relay batch, not one per event, and no agent reads every KPI event only to forward it. A bundle holds
at most FACTS_PER_BUNDLE events, so that analytics' batches stay bounded however the relay's claims fall.
Publishing a bundle again (the relay crashed before deleting its rows) is harmless: the counter
deduplicates each event by its id, in whatever bundles it arrives.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from dsrs.analytics.facts import COUNTED_EVENT_TYPES, Fact, fact_of, partition_key
from dsrs.events.envelope import InvalidEvent, envelope_of, parse_json
from dsrs.outbox.fan_out import Message, Published

FACTS_PER_BUNDLE = 100
# What a bundle's events are grouped by: the fields of their data that the relay reads for analytics.
GROUPED_BY: tuple[str, ...] = ("program_id", "region")


@dataclass(slots=True)
class Bundle:
    key: bytes
    value: bytes
    headers: Sequence[tuple[str, bytes]]


class AnalyticsFanOut:
    """What the outbox relay sends to the analytics topic besides the events it publishes."""

    data_fields = GROUPED_BY

    def __init__(self, topic: str) -> None:
        self.topic = topic

    def messages(self, published: Sequence[Published]) -> list[Message]:
        return [Message(self.topic, bundle.key, bundle.value, bundle.headers) for bundle in bundles(published)]


def bundles(events: Iterable[Published]) -> list[Bundle]:
    """The counted events among `events`, in bundles per program and region of at most FACTS_PER_BUNDLE,
    in order; each bundle continues the trace of its first event."""
    by_key: dict[str, list[Published]] = {}
    for event in events:
        if event.event_type in COUNTED_EVENT_TYPES:
            key = partition_key(str(event.fields["program_id"]), str(event.fields["region"]))
            by_key.setdefault(key, []).append(event)
    return [
        Bundle(key.encode(), encode_bundle([e.value for e in part]), part[0].headers)
        for key, grouped in by_key.items()
        for part in (grouped[start : start + FACTS_PER_BUNDLE] for start in range(0, len(grouped), FACTS_PER_BUNDLE))
    ]


def encode_bundle(events: Sequence[bytes]) -> bytes:
    # The envelopes are already JSON: joined as they are, not parsed and written again.
    return b"[" + b",".join(events) + b"]"


def decode_bundle(raw: bytes | None) -> list[Fact]:
    documents = parse_json(raw)
    if not isinstance(documents, list) or not documents:
        raise InvalidEvent("value is not a non-empty JSON array of events")
    return [fact_of(envelope_of(document)) for document in documents]

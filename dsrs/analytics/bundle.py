"""The analytics topic's message: the KPI events of one program and region, as a JSON array of envelopes.

The outbox relay writes them: as it publishes a batch of events, the ones analytics counts also go,
grouped by program and region, to the analytics topic, keyed so that one partition owns every count
of a program and region. Under load that is one message per program and region per relay batch,
not one per event, and no agent has to read every KPI event only to forward it. A bundle holds at most
FACTS_PER_BUNDLE events, so that a batch of bundles has a bounded size however the relay's claims
fall: when a backlog ended, a relay claim of mostly counted events made bundles of hundreds, analytics
took 35,000 facts in one batch, and the worker's resident memory stepped up for good. Publishing a bundle
again (the relay crashed before deleting its rows) is harmless: the counter deduplicates each event
by its id, in whatever bundles it arrives.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from dsrs.analytics.facts import COUNTED_EVENT_TYPES, Fact, fact_of, partition_key
from dsrs.events.envelope import InvalidEvent, envelope_of, parse_json

# About what a bundle held on average while the saga ran at full speed.
FACTS_PER_BUNDLE = 100


@dataclass(slots=True)
class Outgoing:
    """An event as the relay publishes it: its type, where it counts, its bytes and its headers."""

    event_type: str
    program_id: str | None
    region: str | None
    value: bytes
    headers: Sequence[tuple[str, bytes]]


@dataclass(slots=True)
class Bundle:
    key: bytes
    value: bytes
    headers: Sequence[tuple[str, bytes]]


def bundles(events: Iterable[Outgoing]) -> list[Bundle]:
    """The counted events among `events`, in bundles per program and region of at most FACTS_PER_BUNDLE,
    in order; each bundle continues the trace of its first event."""
    by_key: dict[str, list[Outgoing]] = {}
    for event in events:
        if event.event_type in COUNTED_EVENT_TYPES:
            key = partition_key(str(event.program_id), str(event.region))
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

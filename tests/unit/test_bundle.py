import json

import pytest

from dsrs.analytics.bundle import FACTS_PER_BUNDLE, bundles, decode_bundle, encode_bundle
from dsrs.events.envelope import InvalidEvent, new_envelope
from dsrs.outbox.fan_out import Published


def _approval(household: str) -> bytes:
    data = {"program_id": "cash", "region": "R01"}
    return new_envelope("eligibility.assessed.approved", household, data, "t").to_wire()


def test_a_bundle_carries_each_event_as_a_fact_in_order() -> None:
    events = [_approval("h1"), _approval("h2"), _approval("h3")]
    facts = decode_bundle(encode_bundle(events))
    assert [f.partition_key for f in facts] == ["cash|R01"] * 3
    assert len({f.event_id for f in facts}) == 3


@pytest.mark.parametrize(
    ("raw", "complaint"),
    [
        (None, "no value"),
        (b"[", "not JSON"),
        (b"[]", "non-empty JSON array"),
        (b'{"events": []}', "non-empty JSON array"),
        (b"[null]", "not a JSON object"),
        (b'[{"event_id": "x"}]', "envelope: missing"),
    ],
)
def test_a_malformed_bundle_is_refused_saying_why(raw: bytes | None, complaint: str) -> None:
    with pytest.raises(InvalidEvent, match=complaint):
        decode_bundle(raw)


def test_one_event_analytics_does_not_count_refuses_the_bundle() -> None:
    sent = new_envelope("payment.sent", "h", {"program_id": "cash", "region": "R01"}, "t").to_wire()
    with pytest.raises(InvalidEvent, match="does not count"):
        decode_bundle(encode_bundle([_approval("h1"), sent]))


def _outgoing(event_type: str, program: str, region: str) -> Published:
    envelope = new_envelope(event_type, "h", {"program_id": program, "region": region}, "t")
    fields = {"program_id": program, "region": region}
    return Published(event_type, fields, envelope.to_wire(), [("traceparent", envelope.event_id.encode())])


def test_counted_events_are_bundled_per_program_and_region_in_order_and_the_rest_left_out() -> None:
    events = [
        _outgoing("eligibility.assessed.approved", "cash", "R01"),
        _outgoing("registry.household.registered", "cash", "R01"),
        _outgoing("payment.scheduled", "child", "R02"),
        _outgoing("eligibility.assessed.denied", "cash", "R01"),
    ]
    made = bundles(events)
    assert [b.key for b in made] == [b"cash|R01", b"child|R02"]
    assert [[f.event_id for f in decode_bundle(b.value)] for b in made] == [
        [_event_id(events[0]), _event_id(events[3])],
        [_event_id(events[2])],
    ]
    # A bundle carries its first event's headers, and so continues that event's trace.
    assert made[0].headers == events[0].headers


def _event_id(event: Published) -> str:
    return str(json.loads(event.value)["event_id"])


def test_a_batch_without_counted_events_makes_no_bundle() -> None:
    assert bundles([_outgoing("registry.household.registered", "cash", "R01")]) == []


def test_a_program_and_region_with_more_events_than_a_bundle_holds_gets_several_bundles_in_order() -> None:
    events = [_outgoing("payment.scheduled", "cash", "R01") for _ in range(2 * FACTS_PER_BUNDLE + 1)]
    made = bundles(events)
    assert [b.key for b in made] == [b"cash|R01"] * 3
    carried = [[f.event_id for f in decode_bundle(b.value)] for b in made]
    assert [len(ids) for ids in carried] == [FACTS_PER_BUNDLE, FACTS_PER_BUNDLE, 1]
    assert [i for ids in carried for i in ids] == [_event_id(e) for e in events]
    assert [b.headers for b in made] == [events[0].headers, events[FACTS_PER_BUNDLE].headers, events[-1].headers]

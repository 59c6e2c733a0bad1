import pytest

from dsrs.analytics.bundle import decode_bundle, encode_bundle
from dsrs.events.envelope import InvalidEvent, new_envelope


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

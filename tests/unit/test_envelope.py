import json
import uuid

import pytest

from dsrs.events.envelope import InvalidEvent, decode_envelope, decode_envelope_of, new_envelope


def test_an_envelope_survives_the_wire() -> None:
    sent = new_envelope("registry.household.registered", "h-1", {"version": 1}, "dsrs")
    received = decode_envelope(sent.to_wire())
    assert received == sent
    assert received.time.tzinfo is not None


def _wire(**overrides: object) -> bytes:
    document = {
        "event_id": str(uuid.uuid4()),
        "type": "registry.household.intake",
        "time": "2026-11-29T10:00:00+00:00",
        "source": "partner",
        "subject": str(uuid.uuid4()),
        "schema_version": 1,
        "data": {},
        **overrides,
    }
    return json.dumps({k: v for k, v in document.items() if v is not ...}).encode()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, "no value"),
        (b"{oops", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (_wire(event_id="nope"), "event_id"),
        (_wire(time="yesterday"), "time"),
        (_wire(time="2026-11-29T10:00:00"), "time zone"),
        (_wire(schema_version=2), "schema_version"),
        (_wire(data=[]), "data"),
        (_wire(source=""), "source"),
        (_wire(extra=1), "unknown ['extra']"),
        (_wire(subject=...), "missing ['subject']"),
    ],
)
def test_a_bad_envelope_says_what_is_wrong(raw: bytes | None, reason: str) -> None:
    with pytest.raises(InvalidEvent, match=reason.replace("[", r"\[").replace("]", r"\]")):
        decode_envelope(raw)


@pytest.mark.parametrize(
    "spelling",
    [
        "3F2504E0-4F89-41D3-9A0C-0305E82C3301",
        "{3f2504e0-4f89-41d3-9a0c-0305e82c3301}",
        "3f2504e04f8941d39a0c0305e82c3301",
        "urn:uuid:3f2504e0-4f89-41d3-9a0c-0305e82c3301",
    ],
)
def test_an_event_id_arrives_in_one_spelling_whatever_the_sender_wrote(spelling: str) -> None:
    # Consumers deduplicate by comparing ids as text: one event must never have two.
    assert decode_envelope(_wire(event_id=spelling)).event_id == "3f2504e0-4f89-41d3-9a0c-0305e82c3301"


def test_a_handler_reads_only_the_event_types_it_expects() -> None:
    wire = new_envelope("payment.scheduled", "h", {}, "test").to_wire()
    assert decode_envelope_of(wire, "payment.scheduled").type == "payment.scheduled"
    with pytest.raises(InvalidEvent, match=r"envelope.type: expected 'payment.sent'$"):
        decode_envelope_of(wire, "payment.sent")
    with pytest.raises(InvalidEvent, match=r"expected one of \('a', 'b'\)"):
        decode_envelope_of(wire, "a", "b")

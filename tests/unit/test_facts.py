from decimal import Decimal

import pytest

from dsrs.analytics.facts import fact_of
from dsrs.events.envelope import InvalidEvent, new_envelope


def test_an_approval_counts_as_assessed_and_approved() -> None:
    envelope = new_envelope("eligibility.assessed.approved", "h", {"program_id": "cash", "region": "R01"}, "t")
    fact = fact_of(envelope)
    assert [i.metric for i in fact.increments] == ["assessed", "approved"]
    assert fact.partition_key == "cash|R01"


def test_a_completed_payment_counts_its_amount() -> None:
    data = {"program_id": "cash", "region": "R01", "amount": "52.50"}
    fact = fact_of(new_envelope("payment.completed", "h", data, "t"))
    assert [(i.metric, i.amount) for i in fact.increments] == [("payments_completed", Decimal("52.50"))]


def test_only_a_final_failure_counts_as_a_failed_payment() -> None:
    data = {"program_id": "cash", "region": "R01", "amount": "1"}
    assert fact_of(new_envelope("payment.failed", "h", {**data, "final": False}, "t")).increments == ()
    final = fact_of(new_envelope("payment.failed", "h", {**data, "final": True}, "t"))
    assert [i.metric for i in final.increments] == ["payments_failed"]


def test_an_event_analytics_does_not_count_is_refused() -> None:
    with pytest.raises(InvalidEvent, match="does not count"):
        fact_of(new_envelope("payment.sent", "h", {"program_id": "cash", "region": "R01"}, "t"))


def test_an_amended_payment_changes_the_scheduled_amount_by_the_difference_and_counts_no_new_payment() -> None:
    data = {"program_id": "cash", "region": "R01", "amount": "45.00", "previous_amount": "60.00"}
    [increment] = fact_of(new_envelope("payment.amended", "p1", data, "test")).increments
    assert (increment.metric, increment.amount, increment.count) == ("payments_scheduled", Decimal("-15.00"), 0)

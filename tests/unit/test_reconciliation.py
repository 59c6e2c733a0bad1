from decimal import Decimal

import pytest

from dsrs.payment.reconciliation import InvalidStatement, parse_csv, render_csv
from dsrs.payment.settlement import retry_delay


def test_a_statement_round_trips_through_csv() -> None:
    lines = [
        {"reference": "SIM-1", "amount": "50.00", "currency": "USD", "status": "completed", "settled_at": "2026-11-29"},
        {"reference": "SIM-2", "amount": "12.5", "currency": "USD", "status": "failed", "settled_at": "2026-11-29"},
    ]
    parsed = parse_csv(render_csv(lines))
    assert [(line.reference, line.amount, line.status) for line in parsed] == [
        ("SIM-1", Decimal("50.00"), "completed"),
        ("SIM-2", Decimal("12.5"), "failed"),
    ]


def test_a_statement_without_its_columns_is_refused() -> None:
    with pytest.raises(InvalidStatement, match="lacks columns: amount"):
        parse_csv("reference,currency,status,settled_at\nSIM-1,USD,completed,2026-11-29\n")


def test_a_line_with_a_bad_amount_names_its_line() -> None:
    with pytest.raises(InvalidStatement, match="line 3"):
        parse_csv("reference,amount,currency,status,settled_at\nA,1,USD,completed,x\nB,lots,USD,completed,x\n")


def test_retries_back_off_exponentially() -> None:
    assert [retry_delay(attempt, 10).total_seconds() for attempt in (1, 2, 3, 4)] == [10, 20, 40, 80]

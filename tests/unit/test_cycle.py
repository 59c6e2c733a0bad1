from datetime import UTC, date, datetime

from dsrs.payment.cycle import next_cycle


def test_an_approval_joins_the_next_month() -> None:
    assert next_cycle(datetime(2026, 11, 29, 23, 59, tzinfo=UTC), 15) == ("2026-12", date(2026, 12, 15))


def test_december_rolls_into_the_new_year() -> None:
    assert next_cycle(datetime(2026, 12, 1, tzinfo=UTC), 1) == ("2027-01", date(2027, 1, 1))

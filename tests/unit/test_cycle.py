from datetime import date

import pytest

from dsrs.payment.cycle import approval_cycles, is_dispatched
from dsrs.rules import Schedule, parse_cycle

MONTHLY = Schedule(day=15)


def test_an_approval_joins_the_next_cycle_not_yet_opened() -> None:
    assert approval_cycles(MONTHLY, date(2026, 11, 29), {}, 0) == [("2026-12", date(2026, 12, 15))]
    assert approval_cycles(MONTHLY, date(2026, 11, 3), {}, 0) == [("2026-11", date(2026, 11, 15))]


def test_december_rolls_into_the_new_year() -> None:
    assert approval_cycles(Schedule(day=1), date(2026, 12, 1), {}, 0) == [("2027-01", date(2027, 1, 1))]


def test_an_opened_cycle_is_skipped_unless_the_program_lets_late_approvals_join() -> None:
    opened = {"2026-11": date(2026, 11, 15)}
    assert approval_cycles(MONTHLY, date(2026, 11, 3), opened, 0) == [("2026-12", date(2026, 12, 15))]
    joining = Schedule(day=15, join_open_cycle=True)
    assert approval_cycles(joining, date(2026, 11, 3), opened, 0) == [
        ("2026-11", date(2026, 11, 15)),
        ("2026-12", date(2026, 12, 15)),
    ]
    # Once the cycle is being dispatched (send-ahead), nobody joins it any more.
    assert approval_cycles(joining, date(2026, 11, 3), opened, 20) == [("2026-12", date(2026, 12, 15))]


def test_every_n_months_counts_from_the_first_cycle() -> None:
    quarterly = Schedule(day=5, every_months=3, first_cycle="2025-02")
    assert quarterly.is_cycle("2026-11")
    assert not quarterly.is_cycle("2026-12")
    cycles = quarterly.cycles_from(date(2026, 11, 6))
    assert [next(cycles), next(cycles)] == [("2027-02", date(2027, 2, 5)), ("2027-05", date(2027, 5, 5))]


def test_dispatch_starts_send_ahead_days_before_the_due_date() -> None:
    assert is_dispatched(date(2026, 12, 15), date(2026, 12, 5), 10)
    assert not is_dispatched(date(2026, 12, 15), date(2026, 12, 4), 10)


@pytest.mark.parametrize("cycle", ["2026-13", "2026-1", "26-01", "2026-00", "x"])
def test_a_cycle_is_a_month(cycle: str) -> None:
    with pytest.raises(ValueError, match="expected YYYY-MM"):
        parse_cycle(cycle)

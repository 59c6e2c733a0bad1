"""Which payment cycle an approval falls in, and when that cycle pays."""

from __future__ import annotations

from datetime import date, datetime


def next_cycle(approved_at: datetime, payment_day: int) -> tuple[str, date]:
    """Approvals join the next monthly cycle: ('YYYY-MM', its pay date on `payment_day`).

    The cycle that is under way has been prepared already, so an approval never lands in it.
    """
    year, month = approved_at.year, approved_at.month + 1
    if month == 13:
        year, month = year + 1, 1
    return f"{year:04d}-{month:02d}", date(year, month, payment_day)

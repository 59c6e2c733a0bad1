"""Which payment cycles an approval is paid in."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta

from dsrs.rules import Schedule


def is_dispatched(due_date: date, today: date, send_ahead_days: int) -> bool:
    """A cycle's payments start to go out `send_ahead_days` before its due date."""
    return due_date - timedelta(days=send_ahead_days) <= today


def approval_cycles(
    schedule: Schedule, today: date, opened: Mapping[str, date], send_ahead_days: int
) -> list[tuple[str, date]]:
    """The first cycle after today that has not opened yet, and, when the program lets late approvals join,
    every opened cycle not yet dispatched: (cycle, due date), in order.

    An opened cycle took its list at its cut-off; an approval after it waits for the next one, unless the
    program says otherwise.
    """
    chosen: list[tuple[str, date]] = []
    for cycle, due in schedule.cycles_from(today + timedelta(days=1)):
        if cycle not in opened:
            chosen.append((cycle, due))
            break
    if schedule.join_open_cycle:
        chosen += [
            (cycle, due)
            for cycle, due in opened.items()
            if due > today and not is_dispatched(due, today, send_ahead_days)
        ]
    return sorted(chosen)

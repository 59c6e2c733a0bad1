"""When a program pays: monthly on a day, or every N months from a first cycle. A cycle is named by the
month it pays in ('YYYY-MM')."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

CYCLE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def parse_cycle(cycle: str) -> tuple[int, int]:
    """('YYYY-MM') -> (year, month); ValueError for anything else."""
    match = CYCLE.match(cycle)
    if match is None:
        raise ValueError(f"cycle {cycle!r}: expected YYYY-MM")
    return int(match.group(1)), int(match.group(2))


def _month_index(year: int, month: int) -> int:
    return year * 12 + month - 1


def _name(index: int) -> str:
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


@dataclass(frozen=True)
class Schedule:
    day: int  # the day of the month a cycle pays (1-28, so every month has it)
    every_months: int = 1
    first_cycle: str = "2025-01"  # the anchor of an every-N-months schedule
    # Whether a household approved after a cycle opened joins it while it has not been dispatched.
    join_open_cycle: bool = False

    def is_cycle(self, cycle: str) -> bool:
        try:
            index = _month_index(*parse_cycle(cycle))
        except ValueError:
            return False
        return (index - _month_index(*parse_cycle(self.first_cycle))) % self.every_months == 0

    def due_date(self, cycle: str) -> date:
        year, month = parse_cycle(cycle)
        return date(year, month, self.day)

    def cycles_from(self, day: date) -> Iterator[tuple[str, date]]:
        """Every cycle that pays on or after `day`, in order: (name, due date)."""
        anchor = _month_index(*parse_cycle(self.first_cycle))
        index = _month_index(day.year, day.month)
        index += (anchor - index) % self.every_months
        while True:
            cycle = _name(index)
            due = self.due_date(cycle)
            if due >= day:
                yield cycle, due
            index += self.every_months

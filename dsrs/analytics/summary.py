"""Turns the KPI table rows into the summary and time series the API returns."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from dsrs.analytics.facts import METRICS
from dsrs.tables.analytics import Counts, WindowRow


@dataclass(frozen=True)
class CurrentEligibility:
    """Households now, not decisions made: of one program's active households in one region, how many have a
    decision, and how many are eligible by their newest one."""

    program_id: str
    region: str
    decided: int
    eligible: int


def _households_now(current: Iterable[CurrentEligibility]) -> dict[str, Any]:
    decided = eligible = 0
    for row in current:
        decided += row.decided
        eligible += row.eligible
    return {
        "households_decided": decided,
        "households_eligible": eligible,
        "eligible_rate": round(eligible / decided, 4) if decided else None,
    }


def _totals(counts: Iterable[Counts], current: Iterable[CurrentEligibility] = ()) -> dict[str, Any]:
    numbers = dict.fromkeys(METRICS, 0)
    amounts: defaultdict[str, Decimal] = defaultdict(Decimal)
    for metrics in counts:
        for metric, value in metrics.items():
            numbers[metric] = numbers.get(metric, 0) + int(value["count"])
            amounts[metric] += Decimal(value["amount"])
    assessed = numbers["assessed"]
    return {
        **numbers,
        "approval_rate": round(numbers["approved"] / assessed, 4) if assessed else None,
        "amount_scheduled": str(amounts["payments_scheduled"]),
        "amount_completed": str(amounts["payments_completed"]),
        **_households_now(current),
    }


def summarize(
    rows: Iterable[tuple[str, Counts]],
    program: str | None = None,
    region: str | None = None,
    current: Iterable[CurrentEligibility] = (),
) -> dict[str, Any]:
    """Totals overall, per program and per region, from (program|region, counts) rows: decisions made
    (`assessed`, `approved`, `denied`, `approval_rate`: every assessment, re-assessments included) and
    households now (`households_decided`, `households_eligible`, `eligible_rate`)."""

    def wanted(program_id: str, region_code: str) -> bool:
        return (program is None or program == program_id) and (region is None or region == region_code)

    selected = []
    for key, counts in rows:
        program_id, region_code = key.split("|", 1)
        if wanted(program_id, region_code):
            selected.append((program_id, region_code, counts))
    now = [row for row in current if wanted(row.program_id, row.region)]
    by_program: dict[str, list[Counts]] = defaultdict(list)
    by_region: dict[str, list[Counts]] = defaultdict(list)
    for program_id, region_code, counts in selected:
        by_program[program_id].append(counts)
        by_region[region_code].append(counts)
    for row in now:
        by_program.setdefault(row.program_id, [])
        by_region.setdefault(row.region, [])
    return {
        **_totals((counts for _, _, counts in selected), now),
        "by_program": {
            program_id: _totals(counts, (row for row in now if row.program_id == program_id))
            for program_id, counts in sorted(by_program.items())
        },
        "by_region": {
            region_code: _totals(counts, (row for row in now if row.region == region_code))
            for region_code, counts in sorted(by_region.items())
        },
    }


def series(
    rows: Iterable[WindowRow],
    granularity: str,
    since: datetime | None = None,
    program: str | None = None,
    region: str | None = None,
) -> list[dict[str, Any]]:
    """One point per window, program and region, oldest first."""
    points = [
        {
            "window_start": row.window_start,
            "program_id": row.program_id,
            "region": row.region,
            **{metric: int(row.counts.get(metric, {}).get("count", 0)) for metric in METRICS},
        }
        for row in rows
        if row.granularity == granularity
        and (since is None or row.window_start >= since)
        and (program is None or row.program_id == program)
        and (region is None or row.region == region)
    ]
    return sorted(points, key=lambda p: (p["window_start"], p["program_id"], p["region"]))

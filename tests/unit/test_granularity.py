"""One table of KPI granularities: the schema's CHECK, the Faust tables' retention and the windows agree."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import CheckConstraint

from dsrs.analytics.windows import windows_of
from dsrs.db.schema import analytics_windows
from dsrs.granularity import GRANULARITIES, GRANULARITY_TABLE, RETENTION


def test_the_schema_accepts_exactly_the_granularities_of_the_table() -> None:
    checks = [str(c.sqltext) for c in analytics_windows.constraints if isinstance(c, CheckConstraint)]
    assert checks == [f"granularity IN {GRANULARITIES}"]


def test_every_granularity_has_a_retention_and_a_window() -> None:
    time = datetime(2026, 12, 3, 10, 42, 17, 5, tzinfo=UTC)
    assert set(RETENTION) == set(GRANULARITIES)
    assert [name for name, _ in windows_of(time)] == list(GRANULARITIES)
    assert [g.retention for g in GRANULARITY_TABLE] == sorted(g.retention for g in GRANULARITY_TABLE)

from datetime import UTC, datetime

from dsrs.analytics.summary import CurrentEligibility, series, summarize
from dsrs.analytics.windows import windows_of
from dsrs.tables.analytics import WindowRow


def counts(**metrics: int) -> dict[str, dict[str, object]]:
    return {metric: {"count": value, "amount": "10.00"} for metric, value in metrics.items()}


def test_summary_adds_up_programs_and_regions() -> None:
    rows = [
        ("cash|R01", counts(assessed=10, approved=4, denied=6, payments_scheduled=4)),
        ("cash|R02", counts(assessed=5, approved=1, denied=4, payments_scheduled=1)),
        ("child|R01", counts(assessed=10, approved=5, denied=5)),
    ]
    summary = summarize(rows)
    assert (summary["assessed"], summary["approved"], summary["denied"]) == (25, 10, 15)
    assert summary["approval_rate"] == 0.4
    assert summary["payments_completed"] == 0
    assert summary["by_program"]["cash"]["approved"] == 5
    assert summary["by_region"]["R01"]["approved"] == 9
    assert summary["by_region"]["R02"]["approval_rate"] == 0.2
    assert list(summarize(rows, program="child")["by_region"]) == ["R01"]
    assert summarize(rows, region="R02")["assessed"] == 5
    assert summarize([])["approval_rate"] is None


def test_windows_are_tumbling() -> None:
    time = datetime(2026, 11, 29, 10, 41, 59, 123, tzinfo=UTC)
    assert windows_of(time) == (
        ("minute", datetime(2026, 11, 29, 10, 41, tzinfo=UTC)),
        ("hour", datetime(2026, 11, 29, 10, tzinfo=UTC)),
        ("day", datetime(2026, 11, 29, tzinfo=UTC)),
    )


def test_windows_are_counted_in_utc() -> None:
    # 01:30 at UTC+3 is 22:30 the day before in UTC.
    assert windows_of(datetime.fromisoformat("2026-11-29T01:30:05+03:00")) == (
        ("minute", datetime(2026, 11, 28, 22, 30, tzinfo=UTC)),
        ("hour", datetime(2026, 11, 28, 22, tzinfo=UTC)),
        ("day", datetime(2026, 11, 28, tzinfo=UTC)),
    )


def test_series_is_ordered_and_filtered() -> None:
    early, late = datetime(2026, 11, 29, 10, 0, tzinfo=UTC), datetime(2026, 11, 29, 10, 1, tzinfo=UTC)
    rows = [
        WindowRow("minute", late, "cash", "R01", counts(assessed=2)),
        WindowRow("minute", early, "cash", "R01", counts(assessed=3)),
        WindowRow("hour", early, "cash", "R01", counts(assessed=5)),
    ]
    points = series(rows, "minute")
    assert [(p["window_start"], p["assessed"]) for p in points] == [(early, 3), (late, 2)]
    assert series(rows, "minute", since=late)[0]["assessed"] == 2


def test_households_now_are_counted_apart_from_decisions_made() -> None:
    # One household decided twice (a re-assessment denied it): two decisions made, one household, not eligible.
    rows = [("cash|R01", counts(assessed=2, approved=1, denied=1))]
    now = [CurrentEligibility("cash", "R01", decided=1, eligible=0), CurrentEligibility("cash", "R02", 3, 2)]

    summary = summarize(rows, current=now)

    assert (summary["assessed"], summary["approved"]) == (2, 1)
    assert (summary["households_decided"], summary["households_eligible"]) == (4, 2)
    assert summary["eligible_rate"] == 0.5
    assert summary["by_region"]["R02"]["households_eligible"] == 2
    assert summary["by_region"]["R02"]["assessed"] == 0
    assert summarize(rows, region="R01", current=now)["households_eligible"] == 0
    assert summarize([])["eligible_rate"] is None

"""The shipped programs: cash-transfer and child-grant, as their YAML files declare them."""

from decimal import Decimal
from typing import Any

import pytest

from dsrs.rules import DEFAULT_PROGRAMS_DIR, Assessment, Program, active_programs, assess, load_programs


@pytest.fixture(scope="module")
def programs() -> dict[str, Program]:
    return {program.id: program for program in load_programs(DEFAULT_PROGRAMS_DIR)}


@pytest.fixture(scope="module")
def cash(programs: dict[str, Program]) -> Program:
    return programs["cash-transfer"]


@pytest.fixture(scope="module")
def child(programs: dict[str, Program]) -> Program:
    return programs["child-grant"]


def household(**overrides: Any) -> dict[str, Any]:
    """A poor household with children in a covered region: it qualifies for both programs."""
    return {
        "region": "R01",
        "household_size": 5,
        "children_under_5": 1,
        "children_5_to_17": 2,
        "elderly_members": 0,
        "disabled_members": 0,
        "monthly_income": 200.0,
        "dwelling_rooms": 2,
        "has_electricity": False,
        "has_piped_water": False,
        "owns_livestock": False,
        **overrides,
    }


def failed(assessment: Assessment) -> list[str]:
    return [result.rule_id for result in assessment.rule_results if not result.passed]


def test_both_programs_load_and_are_active(programs: dict[str, Program]) -> None:
    loaded = load_programs(DEFAULT_PROGRAMS_DIR)
    assert [program.id for program in loaded] == ["cash-transfer", "child-grant"]
    assert [program.id for program in active_programs(loaded)] == ["cash-transfer", "child-grant"]
    for program in loaded:
        assert program.currency == "USD"
        assert 1 <= program.payment_day <= 28
        assert program.version


def test_a_poor_family_with_children_qualifies_for_both(programs: dict[str, Program]) -> None:
    decisions = {program_id: assess(program, household()) for program_id, program in programs.items()}
    assert {program_id: a.decision for program_id, a in decisions.items()} == {
        "cash-transfer": "approved",
        "child-grant": "approved",
    }
    # 20 base + 8 x 5 members; 15 x 1 under-5 + 10 x 2 older children.
    assert decisions["cash-transfer"].benefit_amount == Decimal("60.00")
    assert decisions["child-grant"].benefit_amount == Decimal("35.00")
    assert decisions["cash-transfer"].policy_version == programs["cash-transfer"].version


def test_cash_transfer_needs_income_per_capita_below_the_poverty_line(cash: Program) -> None:
    line = cash.params["poverty_line"]
    assert line == 60.0

    def decide(monthly_income: float) -> Assessment:
        return assess(cash, household(household_size=4, monthly_income=monthly_income))

    just_below, at, just_above = decide(239.96), decide(240.0), decide(240.04)
    assert just_below.decision == "approved"
    assert just_below.variables["income_per_capita"] == pytest.approx(59.99)
    assert at.decision == "denied"
    assert failed(at) == ["income_below_poverty_line"]
    assert at.benefit_amount is None
    assert just_above.decision == "denied"


def test_cash_transfer_pmt_score_is_the_documented_weighted_sum(cash: Program) -> None:
    assessment = assess(cash, household(dwelling_rooms=3, has_electricity=True, monthly_income=150.0))
    # 5 intercept + 10 electricity + 3 x 3 rooms + 0.3 x 30 income per capita.
    assert assessment.score == pytest.approx(33.0)
    result = next(r for r in assessment.rule_results if r.rule_id == "pmt_score_at_or_below_cutoff")
    assert result.passed
    assert result.values == {"score": pytest.approx(33.0), "params.pmt_cutoff": 35.0}


def test_cash_transfer_pmt_cutoff_is_inclusive(cash: Program) -> None:
    assert cash.params["pmt_cutoff"] == 35.0
    assets = {"has_electricity": True, "has_piped_water": True, "owns_livestock": True}
    # A one-person household with no income: 5 + 10 + 8 + 6 + 3 x rooms.
    at_cutoff = assess(
        cash,
        household(
            household_size=1, children_under_5=0, children_5_to_17=0, monthly_income=0, dwelling_rooms=2, **assets
        ),
    )
    above = assess(
        cash,
        household(
            household_size=1, children_under_5=0, children_5_to_17=0, monthly_income=1, dwelling_rooms=2, **assets
        ),
    )
    assert at_cutoff.score == 35.0
    assert at_cutoff.decision == "approved"
    assert above.score == pytest.approx(35.3)
    assert above.decision == "denied"
    assert failed(above) == ["pmt_score_at_or_below_cutoff"]


def test_cash_transfer_denies_a_region_it_does_not_cover(cash: Program) -> None:
    assessment = assess(cash, household(region="R09"))
    assert assessment.decision == "denied"
    assert failed(assessment) == ["region_covered"]
    region_rule = next(r for r in assessment.rule_results if r.rule_id == "region_covered")
    assert region_rule.values == {
        "household.region": "R09",
        "params.covered_regions": ["R01", "R02", "R03", "R04", "R05", "R06"],
    }


def test_cash_transfer_benefit_is_capped(cash: Program) -> None:
    small = assess(cash, household(household_size=2, children_5_to_17=1, children_under_5=0, monthly_income=50))
    large = assess(cash, household(household_size=7, monthly_income=140))
    assert small.benefit_amount == Decimal("36.00")
    # 20 + 8 x 7 = 76, over the 70 cap.
    assert large.decision == "approved"
    assert large.benefit_amount == Decimal("70.00")


def test_child_grant_needs_children(child: Program) -> None:
    without = assess(child, household(children_under_5=0, children_5_to_17=0))
    assert without.decision == "denied"
    assert failed(without) == ["has_children"]
    assert without.score is None
    only_older = assess(child, household(children_under_5=0, children_5_to_17=1))
    assert only_older.decision == "approved"
    assert only_older.benefit_amount == Decimal("10.00")


def test_child_grant_threshold_is_higher_than_the_poverty_line(cash: Program, child: Program) -> None:
    near_poor = household(household_size=4, monthly_income=300.0)  # 75 per capita
    assert assess(cash, near_poor).decision == "denied"
    assert assess(child, near_poor).decision == "approved"
    at_threshold = assess(child, household(household_size=4, monthly_income=360.0))
    assert at_threshold.decision == "denied"
    assert failed(at_threshold) == ["income_below_threshold"]


def test_child_grant_covers_every_region_and_is_capped(child: Program) -> None:
    many = household(region="R10", household_size=9, children_under_5=3, children_5_to_17=4, monthly_income=90)
    assessment = assess(child, many)
    # 15 x 3 + 10 x 4 = 85, over the 60 cap.
    assert assessment.decision == "approved"
    assert assessment.benefit_amount == Decimal("60.00")

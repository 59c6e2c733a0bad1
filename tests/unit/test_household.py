import itertools
from decimal import Decimal
from typing import Any

import pytest

from dsrs.eligibility.assessor import check_fits_columns
from dsrs.registry.household import HouseholdFields, InvalidHousehold, parse_household
from dsrs.rules import Assessment, assess, load_programs
from dsrs.streams.errors import PermanentError

REGIONS = ("R01", "R02")


def household(**overrides: Any) -> dict[str, Any]:
    return {
        "head_of_household_name": "Amina Okafor",
        "phone": "+254 712 345678",
        "email": "amina@example.org",
        "region": "R01",
        "household_size": 5,
        "children_under_5": 1,
        "children_5_to_17": 2,
        "monthly_income": 180.5,
        **overrides,
    }


def fields_in_error(**overrides: Any) -> set[str]:
    with pytest.raises(InvalidHousehold) as raised:
        parse_household(household(**overrides), REGIONS)
    return {error.field for error in raised.value.errors}


def test_a_valid_household_is_accepted() -> None:
    parsed = parse_household(household(), REGIONS)
    assert parsed.monthly_income == Decimal("180.5")
    assert parsed.household_size == 5


def test_rules_see_no_personal_data() -> None:
    facts = parse_household(household(), REGIONS).eligibility_facts()
    assert not {"head_of_household_name", "phone", "email", "address"} & set(facts)
    assert facts["region"] == "R01"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"household_size": 0}, "household_size"),
        ({"household_size": 51}, "household_size"),
        ({"household_size": "5"}, "household_size"),
        ({"monthly_income": -1}, "monthly_income"),
        ({"monthly_income": "10"}, "monthly_income"),
        ({"monthly_income": True}, "monthly_income"),
        ({"household_size": 4.5}, "household_size"),
        ({"household_size": True}, "household_size"),
        ({"region": "r01"}, "region"),
        ({"head_of_household_name": " \u3000"}, "head_of_household_name"),
        ({"phone": "call me"}, "phone"),
        ({"email": "not-an-address"}, "email"),
        ({"region": "R99"}, "region"),
        ({"has_electricity": "yes"}, "has_electricity"),
        ({"favourite_colour": "blue"}, "favourite_colour"),
        ({"head_of_household_name": ""}, "head_of_household_name"),
    ],
)
def test_each_bad_field_is_named(overrides: dict[str, Any], field: str) -> None:
    assert fields_in_error(**overrides) == {field}


def test_members_must_fit_the_household() -> None:
    assert fields_in_error(household_size=2, children_5_to_17=3, children_under_5=0) == {"(household)"}


def test_errors_never_repeat_the_submitted_value() -> None:
    with pytest.raises(InvalidHousehold) as raised:
        parse_household(household(phone="Amina's phone 0712"), REGIONS)
    assert "Amina" not in str(raised.value)


# A valid value for each text field, with a place inside it for the character under test.
TEXT_FIELDS = {
    "head_of_household_name": "Amina{}Okafor",
    "phone": "+254 712{}345678",
    "email": "amina{}@example.org",
    "address": "12 Market{}Road",
    "region": "R0{}1",
}
UNSAFE = {
    "NUL": "\x00",
    "escape": "\x1b",
    "newline": "\n",
    "tab": "\t",
    "DEL": "\x7f",
    "C1 next line": "\x85",
    "lone high surrogate": "\ud800",
    "lone low surrogate": "\udfff",
}


@pytest.mark.parametrize("field", TEXT_FIELDS)
@pytest.mark.parametrize("case", UNSAFE)
def test_no_text_field_takes_a_control_character_or_a_lone_surrogate(field: str, case: str) -> None:
    # Inside the value: leading and trailing whitespace is stripped, not refused.
    assert fields_in_error(**{field: TEXT_FIELDS[field].format(UNSAFE[case])}) == {field}


def test_the_text_rule_says_why_without_the_value() -> None:
    with pytest.raises(InvalidHousehold) as raised:
        parse_household(household(head_of_household_name="Amina\x00Okafor"), REGIONS)
    assert "control characters" in str(raised.value)
    assert "Amina" not in str(raised.value)


def test_unicode_letters_and_marks_are_text() -> None:
    assert parse_household(household(head_of_household_name="Ngozi Ọláolúwa Nguyễn Thị"), REGIONS)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"monthly_income": 1_000_000.01}, "monthly_income"),
        ({"monthly_income": 1e15}, "monthly_income"),
        ({"monthly_income": "1e999999"}, "monthly_income"),
        ({"monthly_income": "NaN"}, "monthly_income"),
        ({"monthly_income": float("inf")}, "monthly_income"),
        ({"household_size": 2**63}, "household_size"),
        ({"children_under_5": 51}, "children_under_5"),
        ({"elderly_members": -1}, "elderly_members"),
        ({"dwelling_rooms": 10**30}, "dwelling_rooms"),
    ],
)
def test_numbers_out_of_range_are_refused(overrides: dict[str, Any], field: str) -> None:
    assert field in fields_in_error(**overrides)


def test_the_largest_income_is_accepted() -> None:
    assert parse_household(household(monthly_income=1_000_000.0), REGIONS).monthly_income == Decimal(1_000_000)


def test_an_income_is_kept_to_the_cent_and_a_whole_float_is_an_integer() -> None:
    parsed = parse_household(household(monthly_income=10.005, household_size=4.0), REGIONS)
    assert parsed.monthly_income == Decimal("10.01")
    assert parsed.household_size == 4
    assert isinstance(parsed.household_size, int)


def _extremes() -> list[dict[str, Any]]:
    """Every valid household whose numbers sit at their bounds: the shipped formulas are monotonic in each."""
    properties = HouseholdFields.model_json_schema()["properties"]
    numbers = ("household_size", "children_under_5", "children_5_to_17", "elderly_members", "disabled_members")
    bounds = {name: (properties[name].get("minimum", 0), properties[name]["maximum"]) for name in numbers}
    bounds["dwelling_rooms"] = (1, properties["dwelling_rooms"]["maximum"])
    bounds["monthly_income"] = (0, properties["monthly_income"]["maximum"])
    flags = {name: (False, True) for name in ("has_electricity", "has_piped_water", "owns_livestock")}
    choices = {**bounds, **flags}
    households = []
    for values in itertools.product(*choices.values()):
        try:
            parsed = parse_household(household(**dict(zip(choices, values, strict=True))), REGIONS)
        except InvalidHousehold:
            continue
        households.append(parsed.eligibility_facts())
    return households


def test_every_shipped_program_stores_its_score_and_benefit_at_the_bounds() -> None:
    extremes = _extremes()
    assert len(extremes) > 100
    for program in load_programs():
        for facts in extremes:
            assessment = assess(program, facts)
            check_fits_columns(assessment)
            # Uncapped too, so that raising a program's max cannot overflow either.
            assert program.benefit.maximum is None or program.benefit.maximum < Decimal(10) ** 12


def _assessment(score: float | None, benefit: Decimal | None) -> Assessment:
    return Assessment("p", "1", "approved", score, benefit, ())


@pytest.mark.parametrize(
    ("score", "benefit", "message"),
    [
        (1e15, None, "score 1e+15 does not fit eligibility_assessments.score"),
        (999_999.99995, None, "does not fit eligibility_assessments.score"),
        (-1e6, None, "does not fit eligibility_assessments.score"),
        (None, Decimal("1E+12"), "benefit 1e+12 does not fit eligibility_assessments.benefit_amount"),
        (None, Decimal("1E+40"), "does not fit eligibility_assessments.benefit_amount"),
    ],
)
def test_a_value_too_large_for_its_column_is_a_permanent_error(
    score: float | None, benefit: Decimal | None, message: str
) -> None:
    with pytest.raises(PermanentError, match=message.replace("+", r"\+")):
        check_fits_columns(_assessment(score, benefit))


def test_the_largest_values_that_fit_pass() -> None:
    check_fits_columns(_assessment(999_999.9999, Decimal("999999999999.99")))
    check_fits_columns(_assessment(-999_999.9999, None))


def test_a_national_id_is_kept_in_letters_and_digits() -> None:
    assert parse_household(household(national_id="ab-123 456"), REGIONS).national_id == "AB123456"


@pytest.mark.parametrize("national_id", ["12", "AB#12345", "1" * 21])
def test_a_national_id_out_of_format_is_a_field_error(national_id: str) -> None:
    with pytest.raises(InvalidHousehold) as raised:
        parse_household(household(national_id=national_id), REGIONS)
    assert [error.field for error in raised.value.errors] == ["national_id"]


def test_the_national_id_never_reaches_eligibility() -> None:
    assert "national_id" not in parse_household(household(national_id="AB123456"), REGIONS).eligibility_facts()

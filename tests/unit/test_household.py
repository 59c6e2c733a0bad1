from decimal import Decimal
from typing import Any

import pytest

from dsrs.registry.household import InvalidHousehold, parse_household

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
        ({"monthly_income": 10.001}, "monthly_income"),
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

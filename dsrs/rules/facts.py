"""The household fields rules may read, selected from a household record and normalised for CEL.

Only these fields reach an expression: no name, phone, email or address, whatever the caller passes.
CEL never converts between int and double, so each field always arrives with the same type.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Literal

Value = bool | int | float | str
Kind = Literal["str", "int", "float", "bool"]

HOUSEHOLD_FIELDS: Mapping[str, Kind] = {
    "region": "str",
    "household_size": "int",
    "children_under_5": "int",
    "children_5_to_17": "int",
    "elderly_members": "int",
    "disabled_members": "int",
    "monthly_income": "float",
    "dwelling_rooms": "int",
    "has_electricity": "bool",
    "has_piped_water": "bool",
    "owns_livestock": "bool",
}
NUMERIC_FIELDS = frozenset(name for name, kind in HOUSEHOLD_FIELDS.items() if kind != "str")

# Synthetic households every program is evaluated against when it loads, so that a rule that returns
# a number, or adds an int to a double, fails at start-up rather than on the first real household.
SAMPLE_HOUSEHOLDS: tuple[Mapping[str, Value], ...] = (
    {
        "region": "R01",
        "household_size": 1,
        "children_under_5": 0,
        "children_5_to_17": 0,
        "elderly_members": 0,
        "disabled_members": 0,
        "monthly_income": 0.0,
        "dwelling_rooms": 1,
        "has_electricity": False,
        "has_piped_water": False,
        "owns_livestock": False,
    },
    {
        "region": "R10",
        "household_size": 7,
        "children_under_5": 2,
        "children_5_to_17": 3,
        "elderly_members": 1,
        "disabled_members": 1,
        "monthly_income": 420.5,
        "dwelling_rooms": 3,
        "has_electricity": True,
        "has_piped_water": True,
        "owns_livestock": True,
    },
)


class InvalidFacts(ValueError):
    """A household field is missing or has the wrong type; the message names the field, never its value."""


def household_facts(household: Mapping[str, object]) -> dict[str, Value]:
    facts: dict[str, Value] = {}
    for name, kind in HOUSEHOLD_FIELDS.items():
        if name not in household:
            raise InvalidFacts(f"household field {name!r} is missing")
        facts[name] = _normalise(name, kind, household[name])
    return facts


def _normalise(name: str, kind: Kind, value: object) -> Value:
    # bool is an int subclass: checked first so that True never counts as one member.
    if kind == "bool" and isinstance(value, bool):
        return value
    if kind == "str" and isinstance(value, str):
        return value
    if kind == "int" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind == "float" and not isinstance(value, bool) and isinstance(value, int | float | Decimal | str):
        # The registry stores money as NUMERIC and JSON carries it as a string.
        try:
            number = float(Decimal(value) if isinstance(value, str) else value)
        except (InvalidOperation, ValueError):
            raise InvalidFacts(f"household field {name!r} is not a number") from None
        if math.isfinite(number):
            return number
        raise InvalidFacts(f"household field {name!r} is not a finite number")
    raise InvalidFacts(f"household field {name!r} must be of type {kind}, not {type(value).__name__}")

"""A benefit program as the engine runs it: parameters, derived variables, a PMT score, rules, a benefit."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from dsrs.rules.expression import Expression
from dsrs.rules.facts import Value
from dsrs.rules.schedule import Schedule

Param = Value | list[Value]

# The assessments table stores the score as NUMERIC(10, 4); rules compare the stored value, so the
# recorded score always explains the decision.
SCORE_DECIMALS = 4


@dataclass(frozen=True)
class Variable:
    """A value derived from the household, such as income per capita, that rules and the score can use."""

    name: str
    expression: Expression


@dataclass(frozen=True)
class Rule:
    id: str
    description: str
    expression: Expression


@dataclass(frozen=True)
class Score:
    """A proxy-means-test score: intercept + sum of weight x input; inputs are household fields or variables.

    A weighted sum needs no expression language, and computing it in Python keeps the formula
    auditable from the weights alone. Booleans count as 1 or 0.
    """

    weights: Mapping[str, float]
    intercept: float = 0.0

    def compute(self, inputs: Mapping[str, Value]) -> float:
        total = self.intercept
        for name, weight in self.weights.items():
            value = inputs[name]
            if isinstance(value, str):
                raise TypeError(f"score input {name!r} is a string, not a number")
            total += weight * float(value)
        if not math.isfinite(total):
            raise ValueError("score is not a finite number")
        return round(total, SCORE_DECIMALS)


@dataclass(frozen=True)
class Benefit:
    """The monthly amount for an approved household, capped at `maximum` and rounded to cents."""

    amount: Expression
    maximum: Decimal | None = None


@dataclass(frozen=True)
class Program:
    id: str
    name: str
    version: str
    active: bool
    currency: str
    schedule: Schedule
    params: Mapping[str, Param]
    variables: tuple[Variable, ...]
    score: Score | None
    rules: tuple[Rule, ...]
    benefit: Benefit
    # The file the program came from, so that messages can point at it.
    origin: str = field(default="", compare=False)
    # The SHA-256 of the deployed content it was read from: what assessments made under it point to.
    content_sha256: str = field(default="", compare=False)

    @property
    def payment_day(self) -> int:
        return self.schedule.day

"""Assesses one household against one program: every rule is evaluated, so a denial lists all its reasons."""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from dsrs.rules.errors import RuleEvaluationError
from dsrs.rules.expression import Expression
from dsrs.rules.facts import InvalidFacts, Value, household_facts
from dsrs.rules.program import Program

Decision = Literal["approved", "denied"]
JSONValue = None | bool | int | float | str | list["JSONValue"] | dict[str, "JSONValue"]

CENT = Decimal("0.01")


@dataclass(slots=True)
class RuleResult:
    rule_id: str
    description: str
    passed: bool
    # What the rule read, so a reader of the record can see why: derived values (variables, score)
    # by name, household fields as `household.<field>` and the program's parameters as `params.<key>`.
    # Never personal data: rules cannot see it.
    values: Mapping[str, Value | list[Value]] = field(default_factory=dict)

    def to_json(self) -> dict[str, JSONValue]:
        return {
            "rule_id": self.rule_id,
            "description": self.description,
            "passed": self.passed,
            "values": {name: list(value) if isinstance(value, list) else value for name, value in self.values.items()},
        }


@dataclass(slots=True)
class Assessment:
    program_id: str
    policy_version: str
    decision: Decision
    score: float | None
    benefit_amount: Decimal | None
    rule_results: tuple[RuleResult, ...]
    # Every derived variable, by name: the facts the decision rests on besides the household fields.
    variables: Mapping[str, Value] = field(default_factory=dict)

    @property
    def approved(self) -> bool:
        return self.decision == "approved"

    def to_json(self) -> dict[str, JSONValue]:
        """Plain JSON data for storage and events; the amount is a string, as JSON numbers lose cents."""
        return {
            "program_id": self.program_id,
            "policy_version": self.policy_version,
            "decision": self.decision,
            "score": self.score,
            "benefit_amount": None if self.benefit_amount is None else str(self.benefit_amount),
            "variables": dict(self.variables),
            "rule_results": self.rule_results_json(),
        }

    def rule_results_json(self) -> list[JSONValue]:
        """Each rule's result as plain JSON: what an assessment stores to say why it decided as it did."""
        return [result.to_json() for result in self.rule_results]


def assess(program: Program, household: Mapping[str, object]) -> Assessment:
    """Decides one household; raises RuleEvaluationError when an expression fails for it."""
    derived = _derive(program, household)
    results = _rules(program, derived)
    approved = all(result.passed for result in results)
    return Assessment(
        program_id=program.id,
        policy_version=program.version,
        decision="approved" if approved else "denied",
        score=derived.score,
        benefit_amount=_benefit(program, derived) if approved else None,
        rule_results=results,
        variables=derived.variables,
    )


def check(program: Program, household: Mapping[str, object]) -> None:
    """Evaluates every expression, the benefit included whatever the decision, to catch type errors early."""
    derived = _derive(program, household)
    _rules(program, derived)
    _benefit(program, derived)


@dataclass(slots=True)
class _Derived:
    facts: dict[str, Value]
    variables: dict[str, Value]
    score: float | None
    # What expressions are given: `household`, each variable by name and `score` (their `params` are
    # bound when they are compiled).
    context: dict[str, object]


def _derive(program: Program, household: Mapping[str, object]) -> _Derived:
    try:
        facts = household_facts(household)
    except InvalidFacts as error:
        raise RuleEvaluationError(program.id, "household", str(error)) from None
    context: dict[str, object] = {"household": facts}
    variables: dict[str, Value] = {}
    for variable in program.variables:
        step = f"variables.{variable.name}"
        value = _evaluate(program, step, variable.expression, context)
        if isinstance(value, float) and not math.isfinite(value):
            raise RuleEvaluationError(program.id, step, "returned a number that is not finite")
        if not isinstance(value, bool | int | float | str):
            raise RuleEvaluationError(program.id, step, f"returned {type(value).__name__}, expected a scalar")
        variables[variable.name] = value
        context[variable.name] = value
    score: float | None = None
    if program.score is not None:
        try:
            score = program.score.compute({**facts, **variables})
        except (TypeError, ValueError) as error:
            raise RuleEvaluationError(program.id, "score", str(error)) from None
        context["score"] = score
    return _Derived(facts, variables, score, context)


def _rules(program: Program, derived: _Derived) -> tuple[RuleResult, ...]:
    results: list[RuleResult] = []
    for rule in program.rules:
        passed = _evaluate(program, rule.id, rule.expression, derived.context)
        if not isinstance(passed, bool):
            raise RuleEvaluationError(program.id, rule.id, f"returned {type(passed).__name__}, expected bool")
        results.append(RuleResult(rule.id, rule.description, passed, _read_by(program, rule.expression, derived)))
    return tuple(results)


def _read_by(program: Program, expression: Expression, derived: _Derived) -> dict[str, Value | list[Value]]:
    fields, names, params = _reads(expression)
    read: dict[str, Value | list[Value]] = {label: derived.facts[name] for label, name in fields}
    read.update((label, program.params[key]) for label, key in params)
    if "score" in expression.names and derived.score is not None:
        read["score"] = derived.score
    read.update((name, derived.variables[name]) for name in names if name in derived.variables)
    return read


@functools.cache
def _reads(
    expression: Expression,
) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...], tuple[tuple[str, str], ...]]:
    """The household fields (labelled), the names and the params (labelled) a rule reads, in the order its
    result lists them.

    Worked out once per expression, rather than sorted again for every rule of every household."""
    fields = tuple((f"household.{name}", name) for name in sorted(expression.fields))
    params = tuple((f"params.{key}", key) for key in sorted(expression.params))
    return fields, tuple(sorted(expression.names)), params


def _benefit(program: Program, derived: _Derived) -> Decimal:
    value = _evaluate(program, "benefit", program.benefit.amount, derived.context)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RuleEvaluationError(program.id, "benefit", f"returned {type(value).__name__}, expected a number")
    if not math.isfinite(value) or value < 0:
        raise RuleEvaluationError(program.id, "benefit", "returned a negative or non-finite amount")
    # str() gives the shortest decimal that round-trips, so 0.285 rounds up as written, not as stored.
    amount = Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP)
    if program.benefit.maximum is not None:
        amount = min(amount, program.benefit.maximum)
    return amount


def _evaluate(program: Program, step: str, expression: Expression, context: Mapping[str, object]) -> object:
    try:
        return expression.evaluate(context)
    except Exception as error:  # cel raises ValueError, TypeError, KeyError, RuntimeError, ArithmeticError...
        kind = type(error).__name__
        detail = f"{kind}: {error}"
    # Raised outside the except block, so CEL's message, which can quote household values, is not chained.
    raise RuleEvaluationError(program.id, step, f"evaluation failed ({kind})", detail)

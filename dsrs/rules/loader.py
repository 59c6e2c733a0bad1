"""Reads program files (YAML) strictly: unknown keys, wrong types and duplicate ids stop the load.

Each expression is compiled, and each program evaluated against synthetic households, as its file
loads, so a typo fails at start-up with the file, the entry and CEL's message, never mid-stream.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Hashable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import yaml
from yaml.nodes import MappingNode

from dsrs.rules.engine import CENT, check
from dsrs.rules.errors import ProgramError, RuleEvaluationError
from dsrs.rules.expression import FUNCTIONS, TYPE_NAMES, Expression, ExpressionError
from dsrs.rules.facts import HOUSEHOLD_FIELDS, NUMERIC_FIELDS, SAMPLE_HOUSEHOLDS, Value
from dsrs.rules.program import Benefit, Param, Program, Rule, Score, Variable
from dsrs.rules.schedule import CYCLE, Schedule

DEFAULT_PROGRAMS_DIR = Path(__file__).resolve().parent / "programs"

PROGRAM_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")  # eligibility_assessments.program_id is VARCHAR(64)
VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")  # policy_version is VARCHAR(32)
CURRENCY = re.compile(r"^[A-Z]{3}$")
NAME = re.compile(r"^[a-z_][a-z0-9_]{0,63}$")
PARAM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")

# Names an expression sees besides the variables; a variable may not shadow them.
CONTEXT_NAMES = frozenset({"household", "params", "score"})
CEL_RESERVED = frozenset(
    {"true", "false", "null", "in", "as", "break", "const", "continue", "else", "for", "function", "if", "import"}
    | {"let", "loop", "package", "namespace", "return", "var", "void", "while"}
)
# Steps a RuleEvaluationError can name besides rules; a rule id may not take one.
STEP_NAMES = frozenset({"household", "score", "benefit"})

TOP_REQUIRED = frozenset({"id", "name", "version", "currency", "rules", "benefit"})
# `payment_day: N` is the short form of `schedule: {day: N}` (monthly); a program has one or the other.
TOP_OPTIONAL = frozenset({"active", "params", "variables", "score", "payment_day", "schedule"})
SCHEDULE_KEYS = frozenset({"every_months", "first_cycle", "join_open_cycle"})


class _Invalid(Exception):
    """One problem at one place in a program file; load_program adds the file name."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}" if where else message)


def load_programs(directory: Path = DEFAULT_PROGRAMS_DIR) -> list[Program]:
    """Every `*.yaml` program in `directory`, sorted by id; raises ProgramError on the first bad file."""
    if not directory.is_dir():
        raise ProgramError(f"{directory}: not a folder of program files")
    misnamed = sorted(directory.glob("*.yml"))
    if misnamed:
        # Silently skipping a program someone meant to ship would be worse than refusing to start.
        raise ProgramError(f"{misnamed[0]}: program files must end in .yaml")
    programs: dict[str, Program] = {}
    for path in sorted(directory.glob("*.yaml")):
        program = load_program(path)
        if program.id in programs:
            raise ProgramError(f"{path}: id {program.id!r} is already used by {programs[program.id].origin}")
        programs[program.id] = program
    return [programs[program_id] for program_id in sorted(programs)]


def active_programs(programs: Iterable[Program]) -> list[Program]:
    return [program for program in programs if program.active]


def load_program(path: Path) -> Program:
    return program_from_text(path.read_text(encoding="utf-8"), str(path))


def program_from_text(content: str, origin: str) -> Program:
    """A program from the text of a program file; `origin` names the source in error messages."""
    try:
        document = _parse_yaml(content)
    except yaml.YAMLError as error:
        raise ProgramError(f"{origin}: not valid YAML: {error}") from None
    return parse_program(document, origin)


def parse_program(document: object, origin: str) -> Program:
    """Builds a program from parsed YAML; `origin` names the source in error messages."""
    try:
        program = _program(document, origin)
    except _Invalid as error:
        raise ProgramError(f"{origin}: {error}") from None
    for sample in SAMPLE_HOUSEHOLDS:
        try:
            check(program, sample)
        except RuleEvaluationError as error:
            # The sample households are synthetic, so CEL's message, values and all, can be shown.
            step = f"rule {error.rule_id!r}" if error.rule_id in {rule.id for rule in program.rules} else error.rule_id
            raise ProgramError(f"{origin}: {step}: {error.detail or error.reason} (on a sample household)") from None
    return program


class _UniqueKeyLoader(yaml.SafeLoader):
    """safe_load, except that a repeated key is an error instead of silently replacing the first."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Hashable, object]:
        seen: set[Hashable] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, Hashable):
                if key in seen:
                    raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
                seen.add(key)
        return super().construct_mapping(node, deep)


def _parse_yaml(text: str) -> object:
    loader = _UniqueKeyLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _program(document: object, origin: str) -> Program:
    top = _section(document, "", TOP_REQUIRED, TOP_OPTIONAL)
    params = _params(top.get("params", {}))
    variables = _variables(top.get("variables", {}), params)
    names = [variable.name for variable in variables]
    score = None if top.get("score") is None else _score(top["score"], names)
    scope = _Scope(frozenset({"household", "params", *names, *(["score"] if score is not None else [])}), params)
    return Program(
        id=_string(top["id"], "id", PROGRAM_ID),
        name=_string(top["name"], "name"),
        version=_string(top["version"], "version", VERSION),
        active=_bool(top.get("active", True), "active"),
        currency=_string(top["currency"], "currency", CURRENCY),
        schedule=_schedule(top),
        params=params,
        variables=variables,
        score=score,
        rules=_rules(top["rules"], scope),
        benefit=_benefit(top["benefit"], scope),
        origin=origin,
    )


def _schedule(top: Mapping[str, object]) -> Schedule:
    if ("payment_day" in top) == ("schedule" in top):
        raise _Invalid("schedule", "expected either schedule (day, every_months, ...) or payment_day, not both")
    if "payment_day" in top:
        return Schedule(day=_int(top["payment_day"], "payment_day", 1, 28))
    section = _section(top["schedule"], "schedule", {"day"}, SCHEDULE_KEYS)
    return Schedule(
        day=_int(section["day"], "schedule.day", 1, 28),
        every_months=_int(section.get("every_months", 1), "schedule.every_months", 1, 12),
        first_cycle=_string(section.get("first_cycle", "2025-01"), "schedule.first_cycle", CYCLE),
        join_open_cycle=_bool(section.get("join_open_cycle", False), "schedule.join_open_cycle"),
    )


def _params(value: object) -> dict[str, Param]:
    params: dict[str, Param] = {}
    for key, item in _mapping(value, "params").items():
        where = f"params.{key}"
        _check_name(key, where, PARAM_NAME)
        if isinstance(item, list):
            params[key] = [_scalar(element, f"{where}[{index}]") for index, element in enumerate(item)]
        else:
            params[key] = _scalar(item, where)
    return params


def _variables(value: object, params: Mapping[str, Param]) -> tuple[Variable, ...]:
    variables: list[Variable] = []
    for name, source in _mapping(value, "variables").items():
        where = f"variables.{name}"
        _check_name(name, where, NAME)
        if name in CONTEXT_NAMES | CEL_RESERVED | TYPE_NAMES | FUNCTIONS or name in HOUSEHOLD_FIELDS:
            raise _Invalid(where, "the name is reserved; choose another")
        # In file order: a variable can use the ones declared before it, never after.
        scope = _Scope(frozenset({"household", "params", *(variable.name for variable in variables)}), params)
        variables.append(Variable(name, _expression(source, where, scope)))
    return tuple(variables)


def _score(value: object, variables: Collection[str]) -> Score:
    section = _section(value, "score", {"weights"}, {"intercept"})
    weights: dict[str, float] = {}
    for name, weight in _mapping(section["weights"], "score.weights").items():
        where = f"score.weights.{name}"
        if name not in NUMERIC_FIELDS and name not in variables:
            inputs = sorted(NUMERIC_FIELDS | set(variables))
            raise _Invalid(where, f"not a numeric household field or a variable; expected one of {', '.join(inputs)}")
        weights[name] = _number(weight, where)
    if not weights:
        raise _Invalid("score.weights", "expected at least one weight")
    return Score(weights=weights, intercept=_number(section.get("intercept", 0.0), "score.intercept"))


def _rules(value: object, scope: _Scope) -> tuple[Rule, ...]:
    if not isinstance(value, list) or not value:
        raise _Invalid("rules", "expected a non-empty list of rules")
    rules: list[Rule] = []
    for index, item in enumerate(value):
        entry = _section(item, f"rules[{index}]", {"id", "description", "expression"})
        rule_id = _string(entry["id"], f"rules[{index}].id", NAME)
        where = f"rule {rule_id!r}"
        if rule_id in STEP_NAMES:
            raise _Invalid(where, "the id is reserved; choose another")
        if any(rule.id == rule_id for rule in rules):
            raise _Invalid(where, "duplicate rule id")
        rules.append(
            Rule(
                rule_id,
                _string(entry["description"], f"{where}.description"),
                _expression(entry["expression"], where, scope),
            )
        )
    return tuple(rules)


def _benefit(value: object, scope: _Scope) -> Benefit:
    section = _section(value, "benefit", {"amount"}, {"max"})
    maximum = None
    if section.get("max") is not None:
        cap = _number(section["max"], "benefit.max")
        if cap < 0:
            raise _Invalid("benefit.max", "must not be negative")
        maximum = Decimal(str(cap)).quantize(CENT)
    return Benefit(amount=_expression(section["amount"], "benefit", scope), maximum=maximum)


@dataclass(frozen=True)
class _Scope:
    """What an expression may refer to: names (`household`, `params`, variables, `score`) and param keys."""

    names: frozenset[str]
    params: Mapping[str, Param]


def _expression(value: object, where: str, scope: _Scope) -> Expression:
    source = _string(value, where)
    try:
        expression = Expression.compile(source, scope.names, {"params": scope.params})
    except ExpressionError as error:
        raise _Invalid(where, str(error)) from None
    unknown = sorted(expression.fields - set(HOUSEHOLD_FIELDS))
    if unknown:
        fields = ", ".join(HOUSEHOLD_FIELDS)
        raise _Invalid(where, f"unknown household field(s) {', '.join(unknown)}; rules may read {fields}")
    undeclared = sorted(expression.params - scope.params.keys())
    if undeclared:
        declared = ", ".join(sorted(scope.params)) or "none"
        raise _Invalid(where, f"unknown param(s) {', '.join(undeclared)}; declared: {declared}")
    return expression


def _mapping(value: object, where: str) -> dict[str, object]:
    if not isinstance(value, dict) or not all(isinstance(key, str) for key in value):
        raise _Invalid(where, f"expected a mapping with text keys, not {_type(value)}")
    return value


def _section(value: object, where: str, required: Collection[str], optional: Collection[str] = ()) -> dict[str, object]:
    """A mapping with exactly the given keys: a misspelt optional key must not be silently ignored."""
    section = _mapping(value, where)
    allowed = set(required) | set(optional)
    unknown = sorted(set(section) - allowed)
    if unknown:
        raise _Invalid(where, f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")
    missing = sorted(set(required) - set(section))
    if missing:
        raise _Invalid(where, f"missing key(s) {', '.join(missing)}")
    return section


def _check_name(name: str, where: str, pattern: re.Pattern[str]) -> None:
    if not pattern.match(name):
        raise _Invalid(where, f"invalid name; expected {pattern.pattern}")


def _string(value: object, where: str, pattern: re.Pattern[str] | None = None) -> str:
    if not isinstance(value, str):
        hint = "" if value is None else " (quote it if it is meant as text)"
        raise _Invalid(where, f"expected text, not {_type(value)}{hint}")
    if not value.strip():
        raise _Invalid(where, "expected non-empty text")
    if pattern is not None and not pattern.match(value):
        raise _Invalid(where, f"expected text matching {pattern.pattern}")
    return value


def _bool(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise _Invalid(where, f"expected true or false, not {_type(value)}")
    return value


def _int(value: object, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _Invalid(where, f"expected a whole number from {low} to {high}")
    return value


def _number(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _Invalid(where, f"expected a finite number, not {_type(value)}")
    return float(value)


def _scalar(value: object, where: str) -> Value:
    if isinstance(value, float) and not math.isfinite(value):
        raise _Invalid(where, "expected a finite number")
    if not isinstance(value, bool | int | float | str):
        raise _Invalid(where, f"expected a number, text or true/false, not {_type(value)}")
    return value


def _type(value: object) -> str:
    return "nothing" if value is None else type(value).__name__

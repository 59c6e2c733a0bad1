"""The eligibility rules engine: benefit programs declared in YAML, with rules in CEL.

A program file (see `programs/`) holds its thresholds as `params`, derived `variables`, an optional
proxy-means-test `score`, its `rules` and its `benefit` formula. `load_programs` reads and checks
every file at start-up; `assess` decides one household against one program and explains why.
Expressions run in CEL, never Python `eval`, and see only the household fields listed in
`HOUSEHOLD_FIELDS`: no name, phone, email or address.
"""

from dsrs.rules.engine import Assessment, Decision, RuleResult, assess
from dsrs.rules.errors import ProgramError, RuleEvaluationError
from dsrs.rules.facts import HOUSEHOLD_FIELDS, household_facts
from dsrs.rules.loader import (
    DEFAULT_PROGRAMS_DIR,
    active_programs,
    load_program,
    load_programs,
    parse_program,
    program_from_text,
)
from dsrs.rules.program import Benefit, Program, Rule, Score, Variable
from dsrs.rules.schedule import Schedule, parse_cycle

__all__ = [
    "DEFAULT_PROGRAMS_DIR",
    "HOUSEHOLD_FIELDS",
    "Assessment",
    "Benefit",
    "Decision",
    "Program",
    "ProgramError",
    "Rule",
    "RuleEvaluationError",
    "RuleResult",
    "Schedule",
    "Score",
    "Variable",
    "active_programs",
    "assess",
    "household_facts",
    "load_program",
    "load_programs",
    "parse_cycle",
    "parse_program",
    "program_from_text",
]

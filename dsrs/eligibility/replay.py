"""Replaying a stored assessment: its program version (by content hash) and its household version's facts
decide again, and the result is compared with what was stored. A decision that does not reproduce is
logged and counted; it should never happen, as both inputs are immutable."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import orjson
from sqlalchemy import Numeric, Row, select
from sqlalchemy.ext.asyncio import AsyncConnection

from dsrs.db.schema import eligibility_assessments, household_facts
from dsrs.monitoring.metrics import REPLAY_MISMATCHES
from dsrs.programs.catalog import ProgramCatalog
from dsrs.programs.versions import version_by_sha256
from dsrs.rules import Assessment, Program, ProgramError, RuleEvaluationError, assess

log = logging.getLogger(__name__)


class ReplayRefused(Exception):
    """The assessment cannot be replayed: it predates versioning, or what it rested on is gone."""


@dataclass(frozen=True)
class Replayed:
    """What deciding again gave, beside what was stored; `differences` is empty when it reproduced."""

    assessment_id: uuid.UUID
    program_id: str
    policy_version: str
    program_sha256: str
    household_id: uuid.UUID
    household_version: int
    decision: str | None
    score: Decimal | None
    benefit_amount: Decimal | None
    rule_results: list[Any] | None
    differences: list[dict[str, Any]]

    @property
    def reproduced(self) -> bool:
        return not self.differences

    def to_json(self) -> dict[str, Any]:
        return {
            "assessment_id": self.assessment_id,
            "program_id": self.program_id,
            "policy_version": self.policy_version,
            "program_sha256": self.program_sha256,
            "household_id": self.household_id,
            "household_version": self.household_version,
            "decision": self.decision,
            "score": self.score,
            "benefit_amount": self.benefit_amount,
            "rule_results": self.rule_results,
            "reproduced": self.reproduced,
            "differences": self.differences,
        }


def _scale(column: Any) -> int:
    numeric = column.type
    if not isinstance(numeric, Numeric) or numeric.scale is None:
        raise TypeError(f"{column} is not NUMERIC(p, s)")
    return int(numeric.scale)


SCORE_EXPONENT = Decimal(1).scaleb(-_scale(eligibility_assessments.c.score))
AMOUNT_EXPONENT = Decimal(1).scaleb(-_scale(eligibility_assessments.c.benefit_amount))


def as_stored(value: float | Decimal | None, exponent: Decimal) -> Decimal | None:
    """A number as its NUMERIC column keeps it (PostgreSQL rounds ties away from zero), so that stored and
    replayed compare digit for digit."""
    return None if value is None else Decimal(str(value)).quantize(exponent, rounding=ROUND_HALF_UP)


def stored_rule_results(assessment: Assessment) -> list[Any]:
    """The rule results as their JSONB column gives them back: plain JSON, lists for tuples."""
    results: list[Any] = orjson.loads(orjson.dumps(assessment.rule_results_json()))
    return results


def differences(stored: Mapping[str, Any], replayed: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each field (and each rule, by id) whose replayed value is not the stored one."""
    found = [
        {"field": name, "stored": stored[name], "replayed": replayed[name]}
        for name in ("decision", "score", "benefit_amount")
        if stored[name] != replayed[name]
    ]
    before = {result["rule_id"]: result for result in stored["rule_results"]}
    after = {result["rule_id"]: result for result in replayed["rule_results"]}
    for rule_id in [*before, *(rule_id for rule_id in after if rule_id not in before)]:
        if before.get(rule_id) != after.get(rule_id):
            found.append(
                {"field": f"rule_results.{rule_id}", "stored": before.get(rule_id), "replayed": after.get(rule_id)}
            )
    if not found and list(before) != list(after):
        found.append({"field": "rule_results", "stored": list(before), "replayed": list(after)})
    return found


async def _inputs(connection: AsyncConnection, stored: Row[Any], catalog: ProgramCatalog) -> tuple[Program, Any]:
    """The program version and the household facts the stored assessment was decided with."""
    if stored.program_sha256 is None:
        raise ReplayRefused("the assessment predates program versioning: it names no program content to replay")
    version = await version_by_sha256(connection, stored.program_sha256)
    if version is None:
        raise ReplayRefused(f"no deployed program version has content sha256 {stored.program_sha256}")
    facts = await connection.scalar(
        select(household_facts.c.facts).where(
            household_facts.c.household_id == stored.household_id,
            household_facts.c.household_version == stored.household_version,
        )
    )
    if facts is None:
        raise ReplayRefused(
            f"the facts of household version {stored.household_version} were not recorded (it predates versioning)"
        )
    try:
        return catalog.program(version), facts
    except ProgramError as error:
        raise ReplayRefused(f"its program version no longer loads: {error}") from None


async def replay(connection: AsyncConnection, assessment_id: uuid.UUID, catalog: ProgramCatalog) -> Replayed | None:
    """The assessment decided again (None if there is none); raises ReplayRefused when it cannot be."""
    stored = (
        await connection.execute(select(eligibility_assessments).where(eligibility_assessments.c.id == assessment_id))
    ).first()
    if stored is None:
        return None
    program, facts = await _inputs(connection, stored, catalog)
    replayed: dict[str, Any] = {"decision": None, "score": None, "benefit_amount": None, "rule_results": None}
    try:
        assessment = assess(program, facts)
    except RuleEvaluationError as error:
        # The message names the step and never quotes household values.
        found = [{"field": error.rule_id, "stored": stored.decision, "replayed": str(error)}]
    else:
        replayed = {
            "decision": assessment.decision,
            "score": as_stored(assessment.score, SCORE_EXPONENT),
            "benefit_amount": as_stored(assessment.benefit_amount, AMOUNT_EXPONENT),
            "rule_results": stored_rule_results(assessment),
        }
        found = differences(dict(stored._mapping), replayed)
    result = Replayed(
        stored.id,
        stored.program_id,
        stored.policy_version,
        stored.program_sha256,
        stored.household_id,
        stored.household_version,
        **replayed,
        differences=found,
    )
    if not result.reproduced:
        REPLAY_MISMATCHES.labels(program=stored.program_id).inc()
        # Field names and ids only: the differing values are not logged.
        log.error(
            "assessment %s (program %s version %s) not reproduced: %s differ",
            stored.id,
            stored.program_id,
            stored.policy_version,
            ", ".join(str(difference["field"]) for difference in found),
        )
    return result

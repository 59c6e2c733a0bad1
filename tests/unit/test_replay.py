"""Replaying an assessment, without a database: what counts as reproduced, and how stored and replayed
values are compared; and the program routes' input checks, which answer before any query."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from dsrs.eligibility.replay import (
    AMOUNT_EXPONENT,
    SCORE_EXPONENT,
    as_stored,
    differences,
    stored_rule_results,
)
from dsrs.programs.deploy import effective_time
from dsrs.rules import DEFAULT_PROGRAMS_DIR, assess, load_program
from tests.unit.test_hostile_input import assert_json_4xx, client, field_errors
from tests.unit.test_rules import household

CASH = load_program(DEFAULT_PROGRAMS_DIR / "cash-transfer.yaml")
HOUSEHOLD = household()


def stored_form() -> dict[str, Any]:
    """The assessment as its row holds it: NUMERIC columns as Decimals, rule results as JSONB gives them."""
    assessment = assess(CASH, HOUSEHOLD)
    return {
        "decision": assessment.decision,
        "score": as_stored(assessment.score, SCORE_EXPONENT),
        "benefit_amount": as_stored(assessment.benefit_amount, AMOUNT_EXPONENT),
        "rule_results": stored_rule_results(assessment),
    }


def test_the_same_decision_reproduces() -> None:
    stored = stored_form()
    assert stored["decision"] == "approved"
    assert differences(stored, stored_form()) == []


def test_numbers_compare_as_their_columns_keep_them() -> None:
    stored = {**stored_form(), "score": Decimal("12.3000"), "benefit_amount": Decimal("52.00")}
    replayed = {**stored, "score": as_stored(12.3, SCORE_EXPONENT), "benefit_amount": as_stored(52, AMOUNT_EXPONENT)}
    assert differences(stored, replayed) == []
    assert as_stored(None, SCORE_EXPONENT) is None
    assert as_stored(0.12345, SCORE_EXPONENT) == Decimal("0.1235")


@pytest.mark.parametrize("name", ["decision", "score", "benefit_amount"])
def test_a_changed_value_is_a_difference(name: str) -> None:
    stored = stored_form()
    changed = {"decision": "denied", "score": Decimal("99.0000"), "benefit_amount": Decimal("1.00")}[name]
    found = differences({**stored, name: changed}, stored_form())
    assert found == [{"field": name, "stored": changed, "replayed": stored[name]}]


def test_a_changed_rule_result_names_the_rule() -> None:
    stored = stored_form()
    tampered = [dict(result) for result in stored["rule_results"]]
    tampered[1]["passed"] = not tampered[1]["passed"]
    found = differences({**stored, "rule_results": tampered}, stored)
    rule_id = stored["rule_results"][1]["rule_id"]
    assert found == [{"field": f"rule_results.{rule_id}", "stored": tampered[1], "replayed": stored["rule_results"][1]}]


def test_a_missing_or_reordered_rule_is_a_difference() -> None:
    stored = stored_form()
    results = stored["rule_results"]
    missing = differences({**stored, "rule_results": results[:-1]}, stored)
    assert [difference["field"] for difference in missing] == [f"rule_results.{results[-1]['rule_id']}"]
    assert missing[0]["stored"] is None
    reordered = differences({**stored, "rule_results": results[::-1]}, stored)
    assert [difference["field"] for difference in reordered] == ["rule_results"]


def test_stored_rule_results_are_plain_json() -> None:
    results = stored_rule_results(assess(CASH, HOUSEHOLD))
    covered = next(result for result in results if result["rule_id"] == "region_covered")
    assert isinstance(covered["values"]["params.covered_regions"], list)


def test_an_effective_time_needs_its_offset() -> None:
    assert effective_time("2025-07-01T02:00:00+02:00").isoformat() == "2025-07-01T00:00:00+00:00"
    assert effective_time("2025-07-01T00:00:00Z").isoformat() == "2025-07-01T00:00:00+00:00"
    for bad, reason in (
        ("2025-07-01T00:00:00", "offset"),
        ("2025-07-01", "offset"),
        ("soon", "isoformat"),
        ("0001-01-01T00:00:00+01:00", "out of range"),
    ):
        with pytest.raises(ValueError, match=reason):
            effective_time(bad)


YAML = {"Content-Type": "application/yaml"}


@pytest.mark.parametrize(
    ("body", "headers", "params", "field"),
    [
        (b'{"content": 5}', {"Content-Type": "application/json"}, {}, "content"),
        (b'{"content": "  "}', {"Content-Type": "application/json"}, {}, "content"),
        (b'{"content": "id: \\ud800"}', {"Content-Type": "application/json"}, {}, "content"),
        (b'{"content": "id: a", "colour": 1}', {"Content-Type": "application/json"}, {}, "colour"),
        (b'{"content": "id: a", "effective_from": 5}', {"Content-Type": "application/json"}, {}, "effective_from"),
        (b'{"content": "id: a"}', {"Content-Type": "application/json"}, {"effective_from": "x"}, "effective_from"),
        (b"id: \xff", YAML, {}, "content"),
        (b"id: a", YAML, {"effective_from": "2025-07-01T00:00:00"}, "effective_from"),
    ],
)
def test_a_bad_deploy_body_is_a_field_error_before_any_query(
    body: bytes, headers: dict[str, str], params: dict[str, str], field: str
) -> None:
    response = client().post("/api/v1/programs", content=body, headers=headers, params=params)
    assert field in field_errors(response)


def test_a_deploy_in_another_media_type_is_a_415() -> None:
    assert_json_4xx(client().post("/api/v1/programs", content=b"id: a", headers={"Content-Type": "text/plain"}), 415)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/programs/Bad%00Id/versions/1"),
        ("GET", "/api/v1/programs/cash-transfer/versions/bad%20version"),
        ("POST", "/api/v1/programs/Bad%00Id/retire"),
        ("GET", "/api/v1/programs/Bad%00Id/reassessments"),
        ("GET", "/api/v1/programs/cash-transfer/reassessments/not-an-id"),
        ("GET", "/api/v1/households/not-an-id/assessments"),
        ("GET", "/api/v1/assessments/not-an-id/explain"),
    ],
)
def test_an_id_no_record_can_have_is_a_404_before_any_query(method: str, path: str) -> None:
    assert_json_4xx(client().request(method, path), 404)


@pytest.mark.parametrize("query", ["limit=0", "limit=501", "after=nope"])
def test_a_bad_assessment_page_is_a_field_error(query: str) -> None:
    response = client().get(f"/api/v1/households/0b5c3f0e-4f5e-4bd0-9c8e-0d1f2a3b4c5d/assessments?{query}")
    assert field_errors(response) == {query.partition("=")[0]}

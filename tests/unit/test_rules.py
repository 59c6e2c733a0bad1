"""The rules engine itself: loading and checking program files, evaluating CEL, explaining decisions."""

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from dsrs.rules import (
    HOUSEHOLD_FIELDS,
    Program,
    ProgramError,
    RuleEvaluationError,
    active_programs,
    assess,
    household_facts,
    load_programs,
    parse_program,
)
from dsrs.streams.errors import is_transient


def document(**overrides: Any) -> dict[str, Any]:
    """A small valid program, as parsed YAML."""
    return {
        "id": "test-program",
        "name": "Test program",
        "version": "1",
        "active": True,
        "currency": "USD",
        "payment_day": 5,
        "params": {"line": 50.0, "regions": ["R01", "R02"]},
        "variables": {"per_capita": "household.monthly_income / double(household.household_size)"},
        "score": {"intercept": 2.0, "weights": {"has_electricity": 10.0, "dwelling_rooms": 1.5, "per_capita": 0.1}},
        "rules": [
            {"id": "poor", "description": "Below the line", "expression": "per_capita < params.line"},
            {"id": "covered", "description": "In a covered region", "expression": "household.region in params.regions"},
        ],
        "benefit": {"amount": "10.0 + 5.0 * double(household.household_size)", "max": 30.0},
        **overrides,
    }


def program(**overrides: Any) -> Program:
    return parse_program(document(**overrides), "test.yaml")


def rule(expression: str, rule_id: str = "check") -> list[dict[str, str]]:
    return [{"id": rule_id, "description": "A check", "expression": expression}]


def household(**overrides: Any) -> dict[str, Any]:
    return {
        "region": "R01",
        "household_size": 4,
        "children_under_5": 1,
        "children_5_to_17": 1,
        "elderly_members": 0,
        "disabled_members": 0,
        "monthly_income": 100.0,
        "dwelling_rooms": 2,
        "has_electricity": True,
        "has_piped_water": False,
        "owns_livestock": False,
        **overrides,
    }


def load_error(**overrides: Any) -> str:
    with pytest.raises(ProgramError) as raised:
        program(**overrides)
    return str(raised.value)


def write(directory: Path, name: str, data: dict[str, Any]) -> None:
    (directory / name).write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


# --- household facts ---


def test_only_eligibility_fields_reach_the_rules() -> None:
    facts = household_facts(
        household(head_of_household_name="Amina Okafor", phone="+254 712 345678", email="a@example.org", address="X")
    )
    assert set(facts) == set(HOUSEHOLD_FIELDS)


@pytest.mark.parametrize("income", [Decimal("100.00"), "100.00", 100, 100.0])
def test_monthly_income_is_normalised_to_float(income: object) -> None:
    facts = household_facts(household(monthly_income=income))
    assert facts["monthly_income"] == 100.0
    assert isinstance(facts["monthly_income"], float)


def test_a_rule_cannot_read_personal_data() -> None:
    message = load_error(rules=rule("has(household.phone)"))
    assert "test.yaml" in message
    assert "rule 'check'" in message
    assert "unknown household field(s) phone" in message


def test_a_missing_or_mistyped_field_is_an_evaluation_error_without_the_value() -> None:
    facts = household()
    del facts["dwelling_rooms"]
    with pytest.raises(RuleEvaluationError) as missing:
        assess(program(), facts)
    assert missing.value.rule_id == "household"
    assert "dwelling_rooms" in str(missing.value)
    with pytest.raises(RuleEvaluationError) as mistyped:
        assess(program(), household(household_size="four-and-a-half"))
    assert "household_size" in str(mistyped.value)
    assert "four-and-a-half" not in str(mistyped.value)


# --- evaluation ---


def test_score_is_intercept_plus_weighted_inputs() -> None:
    assessment = assess(program(), household(monthly_income=100.0, dwelling_rooms=3))
    # 2 + 10 x electricity (true) + 1.5 x 3 rooms + 0.1 x 25 per capita
    assert assessment.score == pytest.approx(19.0)
    without_electricity = assess(program(), household(has_electricity=False, monthly_income=100.0, dwelling_rooms=3))
    assert without_electricity.score == pytest.approx(9.0)


def test_every_rule_is_evaluated_and_explained() -> None:
    assessment = assess(program(), household(region="R07", monthly_income=400.0))
    assert assessment.decision == "denied"
    assert assessment.benefit_amount is None
    assert [(r.rule_id, r.passed) for r in assessment.rule_results] == [("poor", False), ("covered", False)]
    assert assessment.rule_results[0].values == {"per_capita": 100.0, "params.line": 50.0}
    assert assessment.rule_results[1].values == {"household.region": "R07", "params.regions": ["R01", "R02"]}
    assert assessment.variables == {"per_capita": 100.0}


def test_to_json_is_plain_json() -> None:
    assessment = assess(program(), household())
    data = assessment.to_json()
    assert json.loads(json.dumps(data)) == data
    assert data["decision"] == "approved"
    assert data["benefit_amount"] == "30.00"
    assert data["policy_version"] == "1"
    assert data["rule_results"] == [
        {
            "rule_id": "poor",
            "description": "Below the line",
            "passed": True,
            "values": {"per_capita": 25.0, "params.line": 50.0},
        },
        {
            "rule_id": "covered",
            "description": "In a covered region",
            "passed": True,
            "values": {"household.region": "R01", "params.regions": ["R01", "R02"]},
        },
    ]


def test_benefit_is_capped_and_rounded_half_up_to_cents() -> None:
    capped = assess(program(), household(household_size=6))
    assert capped.benefit_amount == Decimal("30.00")
    thirds = program(benefit={"amount": "household.monthly_income / 3.0"})
    assert assess(thirds, household(monthly_income=100.0)).benefit_amount == Decimal("33.33")
    half_cent = program(benefit={"amount": "household.monthly_income / 1000.0"})
    assert assess(half_cent, household(household_size=6, monthly_income=Decimal("285"))).benefit_amount == Decimal(
        "0.29"
    )


def test_a_rule_that_fails_for_one_household_raises_without_household_values() -> None:
    # Passes the sample households, overflows for a large household in R05 only.
    overflow = "household.region != 'R05' || household.household_size * 9223372036854775807 > 0"
    risky = program(rules=rule(overflow, "risky"))
    assert assess(risky, household()).decision == "approved"
    with pytest.raises(RuleEvaluationError) as raised:
        assess(risky, household(region="R05", household_size=37))
    error = raised.value
    assert (error.program_id, error.rule_id) == ("test-program", "risky")
    assert "'test-program'" in str(error)
    assert "risky" in str(error)
    assert "37" in error.detail  # CEL quotes the value...
    assert "37" not in str(error)  # ...the message does not,
    assert error.__cause__ is None
    assert error.__context__ is None  # nor does a chained exception.
    assert not is_transient(error)


def test_a_rule_that_returns_a_non_bool_for_one_household_raises() -> None:
    sometimes_int = program(rules=rule("household.region == 'R05' ? 1 : true", "odd"))
    with pytest.raises(RuleEvaluationError, match="odd: returned int, expected bool"):
        assess(sometimes_int, household(region="R05"))


# --- loading and validation ---


def test_bad_cel_syntax_names_the_file_rule_and_cel_error() -> None:
    message = load_error(rules=rule("household.household_size >", "too_big"))
    assert message.startswith("test.yaml: rule 'too_big': ")
    assert "Syntax error" in message


def test_python_is_never_evaluated() -> None:
    message = load_error(rules=rule("__import__('os').system('true') == 0"))
    assert "rule 'check'" in message
    assert "unsupported function(s) __import__" in message
    assert "unknown name(s) os" in load_error(rules=rule("os.system('true') == 0"))


def test_unknown_names_and_forward_references_fail_at_load() -> None:
    assert "unknown name(s) per_capta" in load_error(rules=rule("per_capta < 1.0"))
    message = load_error(variables={"a": "b + 1", "b": "1"})
    assert "variables.a: unknown name(s) b" in message


def test_a_rule_returning_a_non_bool_fails_at_load() -> None:
    message = load_error(rules=rule("household.household_size", "size"))
    assert message == "test.yaml: rule 'size': returned int, expected bool (on a sample household)"


def test_mixing_int_and_double_fails_at_load_with_the_cel_message() -> None:
    message = load_error(benefit={"amount": "10.0 + household.household_size"})
    assert message.startswith("test.yaml: benefit: TypeError: Unsupported operation: float + int")


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"activ": True}, "test.yaml: unknown key(s) activ"),
        ({"rules": [{"id": "r", "description": "d", "expresion": "true"}]}, "rules[0]: unknown key(s) expresion"),
        ({"benefit": {"amount": "1.0", "cap": 2.0}}, "benefit: unknown key(s) cap"),
        ({"score": {"weights": {"income": 1.0}}}, "score.weights.income: not a numeric household field"),
        ({"version": 1.2}, "version: expected text, not float (quote it"),
        ({"payment_day": 31}, "payment_day: expected a whole number from 1 to 28"),
        ({"currency": "usd"}, "currency: expected text matching"),
        ({"active": "yes please"}, "active: expected true or false"),
        ({"rules": []}, "rules: expected a non-empty list"),
        ({"rules": rule("true", "a") + rule("false", "a")}, "rule 'a': duplicate rule id"),
        ({"rules": rule("true", "benefit")}, "rule 'benefit': the id is reserved"),
        ({"variables": {"score": "1.0"}}, "variables.score: the name is reserved"),
        ({"params": {"when": None}}, "params.when: expected a number, text or true/false, not nothing"),
    ],
)
def test_malformed_programs_are_rejected_with_the_problem_named(overrides: dict[str, Any], expected: str) -> None:
    assert expected in load_error(**overrides)


def test_missing_keys_are_named() -> None:
    data = document()
    del data["benefit"]
    with pytest.raises(ProgramError, match="missing key\\(s\\) benefit"):
        parse_program(data, "test.yaml")


def test_programs_load_sorted_by_id_and_active_ones_are_filtered(tmp_path: Path) -> None:
    write(tmp_path, "b.yaml", document(id="zeta"))
    write(tmp_path, "a.yaml", document(id="alpha", active=False))
    (tmp_path / "notes.txt").write_text("not a program", encoding="utf-8")
    programs = load_programs(tmp_path)
    assert [p.id for p in programs] == ["alpha", "zeta"]
    assert [p.id for p in active_programs(programs)] == ["zeta"]
    assert programs[0].origin == str(tmp_path / "a.yaml")


def test_duplicate_program_ids_are_rejected(tmp_path: Path) -> None:
    write(tmp_path, "one.yaml", document())
    write(tmp_path, "two.yaml", document(version="2"))
    with pytest.raises(ProgramError, match=r"two\.yaml: id 'test-program' is already used by .*one\.yaml"):
        load_programs(tmp_path)


def test_duplicate_yaml_keys_are_rejected(tmp_path: Path) -> None:
    text = yaml.safe_dump(document(), sort_keys=False) + "version: '2'\n"
    (tmp_path / "program.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ProgramError, match=r"program\.yaml: not valid YAML: .*duplicate key 'version'"):
        load_programs(tmp_path)


def test_a_yml_file_or_a_missing_folder_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "program.yml", document())
    with pytest.raises(ProgramError, match=r"must end in \.yaml"):
        load_programs(tmp_path)
    with pytest.raises(ProgramError, match="not a folder"):
        load_programs(tmp_path / "absent")


def test_unknown_params_fail_at_load() -> None:
    assert "unknown param(s) lin; declared: line, regions" in load_error(rules=rule("1.0 < params.lin"))


def test_records_can_be_indexed_and_searched_as_well_as_dotted() -> None:
    indexed = program(rules=rule("household['region'] == 'R02' && params['line'] > 1.0"))
    assert assess(indexed, household(region="R02")).decision == "approved"
    assert assess(indexed, household(region="R01")).decision == "denied"
    searched = program(rules=rule("params.regions.exists(r, r == household.region)"))
    assert assess(searched, household(region="R02")).decision == "approved"
    assert assess(searched, household(region="R03")).decision == "denied"


def test_a_schedule_replaces_payment_day() -> None:
    without_day = {key: value for key, value in document().items() if key != "payment_day"}
    schedule = {"day": 12, "every_months": 3, "first_cycle": "2026-02", "join_open_cycle": True}
    loaded = parse_program({**without_day, "schedule": schedule}, "test.yaml")
    assert (loaded.payment_day, loaded.schedule.every_months, loaded.schedule.join_open_cycle) == (12, 3, True)
    assert program().schedule.every_months == 1


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        (None, "schedule: expected either schedule"),
        ({"day": 29}, "schedule.day: expected a whole number from 1 to 28"),
        ({"day": 1, "every_months": 0}, "schedule.every_months: expected a whole number from 1 to 12"),
        ({"day": 1, "first_cycle": "2026-13"}, "schedule.first_cycle: expected text matching"),
        ({"day": 1, "join_open_cycle": "yes"}, "schedule.join_open_cycle: expected true or false"),
        ({"day": 1, "weekly": True}, "schedule: unknown key(s) weekly"),
    ],
)
def test_a_bad_schedule_is_refused(schedule: dict[str, Any] | None, expected: str) -> None:
    source = {key: value for key, value in document().items() if key != "payment_day"}
    if schedule is not None:
        source["schedule"] = schedule
    with pytest.raises(ProgramError, match=re.escape(expected)):
        parse_program(source, "test.yaml")
    with pytest.raises(ProgramError, match="not both"):
        parse_program({**document(), "schedule": {"day": 1}}, "test.yaml")

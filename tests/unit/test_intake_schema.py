import json

from dsrs.registry.intake_schema import SCHEMA_PATH, render


def test_the_published_schema_is_the_one_the_code_enforces() -> None:
    assert SCHEMA_PATH.read_text() == render(), "run `python -m dsrs.registry.intake_schema` to refresh it"


def test_the_schema_rejects_unknown_fields() -> None:
    schema = json.loads(render())
    assert schema["additionalProperties"] is False
    assert schema["$defs"]["HouseholdFields"]["additionalProperties"] is False
    assert {"event_id", "type", "subject", "data"} <= set(schema["required"])

"""The intake contract for partner systems: the model the worker validates each message with, and its JSON
Schema, so that the two cannot disagree (tests/unit/test_intake_contract.py feeds both the same corpus).

`dsrs/registry/intake.schema.json` is this schema, written out; a test keeps the two equal.

Two rules are the registry's alone, as JSON Schema cannot say them: a known region is one of the
deployment's DSRS_REGIONS (the schema checks the code's form), and children and elderly members together,
and disabled members, are at most household_size. The schema's `$comment` says so.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from dsrs.events.envelope import SCHEMA_VERSION
from dsrs.events.topics import HOUSEHOLD_INTAKE
from dsrs.registry.household import NOT_BLANK, HouseholdFields, InvalidHousehold, Text, field_errors, integral

SCHEMA_PATH = Path(__file__).with_name("intake.schema.json")

# RFC 4122's text form, as DSRS writes ids: other spellings of one id would be other keys, other partitions.
UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
UUID_MESSAGE = "must be a UUID in lower-case hyphenated form"
# RFC 3339, upper-case T and Z, with an offset; the calendar (30 February) is checked by `format`.
TIME_PATTERN = (
    r"^(?:[1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
    r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$"
)
TIME_MESSAGE = "must be an RFC 3339 time with an offset, such as 2026-11-29T10:00:00+00:00"
RULES_BEYOND_SCHEMA = (
    "Also checked by DSRS, beyond this schema: data.region is one of the deployment's regions (DSRS_REGIONS); "
    "children_under_5 + children_5_to_17 + elderly_members, and disabled_members, are at most household_size. "
    "The message key is the subject."
)


def _time(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("not a date and time of the calendar") from None


def _version(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError(f"must be {SCHEMA_VERSION}")
    return integral(value)


Uuid = Annotated[str, Text(64, UUID_PATTERN, UUID_MESSAGE), Field(json_schema_extra={"format": "uuid"})]


class IntakeMessage(BaseModel):
    """A household submitted on `registry.household.intake`, keyed by its subject, the household id."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        title="DSRS household intake message",
        json_schema_extra={"$comment": RULES_BEYOND_SCHEMA},
    )

    event_id: Annotated[Uuid, Field(description="Unique per submission; a resubmission with the same id is ignored")]
    type: Literal["registry.household.intake"] = Field(description=f"Always {HOUSEHOLD_INTAKE!r}")
    time: Annotated[
        datetime,
        Text(40, TIME_PATTERN, TIME_MESSAGE),
        AfterValidator(_time),
        Field(
            description="When the partner made the submission, RFC 3339 with offset",
            json_schema_extra={"format": "date-time"},
        ),
    ]
    source: Annotated[str, Text(200, NOT_BLANK, "must not be blank"), Field(description="The partner system's name")]
    subject: Annotated[
        Uuid, Field(description="The household id, also the message key; an existing id replaces that household")
    ]
    schema_version: Annotated[Literal[1], BeforeValidator(_version), Field(description=f"Always {SCHEMA_VERSION}")]
    data: HouseholdFields


def parse_intake(raw: bytes, regions: frozenset[str] | tuple[str, ...]) -> IntakeMessage:
    """One pass from the message's bytes to a checked submission; InvalidHousehold says which fields and why."""
    try:
        return IntakeMessage.model_validate_json(raw, context={"regions": frozenset(regions)})
    except ValidationError as error:
        raise InvalidHousehold(field_errors(error, "(message)")) from None


def intake_json_schema() -> dict[str, Any]:
    schema = IntakeMessage.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def render() -> str:
    return json.dumps(intake_json_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    SCHEMA_PATH.write_text(render())

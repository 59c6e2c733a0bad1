"""The intake contract for partner systems, as JSON Schema: the envelope, with a household as its data.

`dsrs/registry/intake.schema.json` is this schema, written out; a test keeps the two equal.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from dsrs.events.envelope import SCHEMA_VERSION
from dsrs.events.topics import HOUSEHOLD_INTAKE
from dsrs.registry.household import HouseholdFields

SCHEMA_PATH = Path(__file__).with_name("intake.schema.json")


class IntakeMessage(BaseModel):
    """A household submitted on `registry.household.intake`; the message key should be the household id."""

    model_config = ConfigDict(extra="forbid", title="DSRS household intake message")

    event_id: UUID = Field(description="Unique per submission; a resubmission with the same id is ignored")
    type: Literal["registry.household.intake"] = Field(description=f"Always {HOUSEHOLD_INTAKE!r}")
    time: datetime = Field(description="When the partner made the submission, ISO 8601 with offset")
    source: str = Field(min_length=1, description="The partner system's name")
    subject: UUID = Field(description="The household id; submitting an existing id replaces that household")
    schema_version: Literal[1] = Field(description=f"Always {SCHEMA_VERSION}")
    data: HouseholdFields


def intake_json_schema() -> dict[str, Any]:
    schema = IntakeMessage.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    return schema


def render() -> str:
    return json.dumps(intake_json_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    SCHEMA_PATH.write_text(render())

"""What a household is, as the registry accepts it: strict types, ranges and formats, no unknown fields.

The same model checks a household from the REST API and from the intake topic, and its JSON Schema is
the intake contract published to partners (`dsrs/registry/intake.schema.json`).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{5,18}[0-9]$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
# A national id as the registry keeps it: letters and digits, once spaces and hyphens are taken out.
NATIONAL_ID = re.compile(r"^[A-Z0-9]{5,20}$")
NATIONAL_ID_SEPARATORS = re.compile(r"[ -]")

# C0 and C1 controls and unpaired surrogates: PostgreSQL refuses NUL, and the rest corrupt logs and exports.
UNSAFE_TEXT = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
UNSAFE_TEXT_MESSAGE = "must not contain control characters or unpaired surrogates"
# The same rule as an ECMA-262 pattern, for partners' JSON Schema validators.
PLAIN_TEXT_PATTERN = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"

# Generous, yet at these maxima every shipped program's score and benefit fit their NUMERIC columns
# (tests/unit/test_household.py checks it).
MAX_MEMBERS = 50
MAX_MONTHLY_INCOME = 1_000_000


def is_plain_text(value: str) -> bool:
    return UNSAFE_TEXT.search(value) is None


def _plain_text(value: str) -> str:
    if not is_plain_text(value):
        raise ValueError(UNSAFE_TEXT_MESSAGE)
    return value


PlainText = Annotated[str, AfterValidator(_plain_text), Field(json_schema_extra={"pattern": PLAIN_TEXT_PATTERN})]
# Never past the registry: not in events, logs, spans or dead-letter headers.
PERSONAL_FIELDS = ("head_of_household_name", "phone", "national_id", "email", "address")
MemberCount = Annotated[StrictInt, Field(ge=0, le=MAX_MEMBERS)]


class FieldError(BaseModel):
    field: str
    message: str


class HouseholdFields(BaseModel):
    """A household's registry record, as a registrar or a partner system submits it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    head_of_household_name: Annotated[PlainText, Field(min_length=1, max_length=200)]
    phone: Annotated[PlainText | None, Field(max_length=32)] = None
    national_id: Annotated[
        PlainText | None,
        Field(max_length=40, description="5-20 letters or digits; spaces and hyphens are ignored"),
    ] = None
    email: Annotated[PlainText | None, Field(max_length=254)] = None
    address: Annotated[PlainText | None, Field(max_length=500)] = None
    region: Annotated[PlainText, Field(min_length=1, max_length=16, description="A known region code")]
    household_size: Annotated[StrictInt, Field(ge=1, le=MAX_MEMBERS)]
    children_under_5: MemberCount = 0
    children_5_to_17: MemberCount = 0
    elderly_members: MemberCount = 0
    disabled_members: MemberCount = 0
    monthly_income: Annotated[Decimal, Field(ge=0, le=MAX_MONTHLY_INCOME, decimal_places=2, allow_inf_nan=False)]
    dwelling_rooms: Annotated[StrictInt, Field(ge=1, le=50)] = 1
    has_electricity: StrictBool = False
    has_piped_water: StrictBool = False
    owns_livestock: StrictBool = False

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if value is not None and not PHONE.match(value):
            raise ValueError("must be a phone number: digits, spaces, ( ) or -, optionally starting with +")
        return value

    @field_validator("national_id")
    @classmethod
    def _national_id(cls, value: str | None) -> str | None:
        if value is None:
            return None
        normalized = NATIONAL_ID_SEPARATORS.sub("", value).upper()
        if not NATIONAL_ID.match(normalized):
            raise ValueError("must be a national id: 5 to 20 letters or digits, optionally with spaces or hyphens")
        return normalized

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not EMAIL.match(value):
            raise ValueError("must be an email address")
        return value

    @field_validator("region")
    @classmethod
    def _region(cls, value: str, info: ValidationInfo) -> str:
        regions = (info.context or {}).get("regions")
        if regions is not None and value not in regions:
            raise ValueError(f"unknown region code; known: {', '.join(sorted(regions))}")
        return value

    @model_validator(mode="after")
    def _members_fit(self) -> HouseholdFields:
        listed = self.children_under_5 + self.children_5_to_17 + self.elderly_members
        if listed > self.household_size:
            raise ValueError("children and elderly members together exceed household_size")
        if self.disabled_members > self.household_size:
            raise ValueError("disabled_members exceeds household_size")
        return self

    def eligibility_facts(self) -> dict[str, Any]:
        """The fields rules may use: no name, phone, national id, email or address."""
        return self.model_dump(exclude=set(PERSONAL_FIELDS), mode="json")


class InvalidHousehold(ValueError):
    """The household failed validation; `errors` says which field and why."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{error.field}: {error.message}" for error in errors))
        self.errors = errors

    @property
    def dead_letter_cause(self) -> str:
        """Only an unknown region can pass later, once the region is accepted (dsrs.dlq.causes)."""
        unknown_region = all(e.field == "region" and e.message.startswith("unknown region") for e in self.errors)
        return "regions" if unknown_region and self.errors else "content"


def field_errors(error: ValidationError) -> list[FieldError]:
    """Per-field messages that never repeat the submitted value: it may be personal data."""
    return [
        FieldError(
            field=".".join(str(part) for part in detail["loc"]) or "(household)",
            message=str(detail["msg"]).removeprefix("Value error, "),
        )
        for detail in error.errors(include_input=False, include_url=False)
    ]


def parse_household(data: object, regions: frozenset[str] | tuple[str, ...]) -> HouseholdFields:
    try:
        return HouseholdFields.model_validate(data, context={"regions": frozenset(regions)})
    except ValidationError as error:
        raise InvalidHousehold(field_errors(error)) from None

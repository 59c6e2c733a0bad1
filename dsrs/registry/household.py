"""What a household is, as the registry accepts it: strict types, ranges and formats, no unknown fields.

The same model checks a household from the REST API and from the intake topic, and its JSON Schema is
the intake contract published to partners (`dsrs/registry/intake.schema.json`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StrictBool,
    StrictInt,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

from dsrs.settings import REGION_CODE

# The contract's text rules as ECMA-262 patterns: the JSON Schema publishes them and the validator runs these
# same strings (Python's re reads them alike), so that the schema and the registry never disagree.
# C0 and C1 controls: PostgreSQL refuses NUL, and the rest corrupt logs and exports.
CONTROL_PATTERN = r"[\u0000-\u001f\u007f-\u009f]"
# And unpaired surrogates, which JSON can escape (\ud800) but no UTF-8 text holds: refused like invalid UTF-8.
# They stay out of the schema's pattern, which validators built on UTF-8 strings cannot compile with them.
UNSAFE_TEXT = re.compile(r"[\u0000-\u001f\u007f-\u009f\ud800-\udfff]")
UNSAFE_TEXT_MESSAGE = "must not contain control characters or unpaired surrogates"
# Unicode's White_Space less the controls: what is trimmed from either end of a text field.
SPACE_CHARS = (
    "\u0020\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_SPACE = r"\u0020\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# Something besides spaces and the invisible zero-width characters.
NOT_BLANK = rf"[^{_SPACE}\u200b-\u200d\u2060\ufeff]"
PHONE = rf"^[{_SPACE}]*\+?[0-9][0-9 ()-]{{5,18}}[0-9][{_SPACE}]*$"
EMAIL = rf"^[{_SPACE}]*[^@{_SPACE}]+@[^@{_SPACE}]+\.[A-Za-z]{{2,}}[{_SPACE}]*$"
# Letters and digits, with spaces and hyphens between them that the registry takes out.
NATIONAL_ID = rf"^[{_SPACE}]*(?:[ -]*[A-Za-z0-9]){{5,20}}[ -]*[{_SPACE}]*$"
NATIONAL_ID_SEPARATORS = re.compile(r"[ -]")
REGION = rf"^[{_SPACE}]*{REGION_CODE.pattern}[{_SPACE}]*$"

# Generous, yet at these maxima every shipped program's score and benefit fit their NUMERIC columns
# (tests/unit/test_household.py checks it).
MAX_MEMBERS = 50
MAX_MONTHLY_INCOME = 1_000_000
CENT = Decimal("0.01")


def is_plain_text(value: str) -> bool:
    return UNSAFE_TEXT.search(value) is None


@dataclass(frozen=True)
class Text:
    """A text field's rule: a JSON string of at most `max_length` characters as sent, no control anywhere,
    matching `pattern` (searched, as JSON Schema does), then trimmed and `normalize`d."""

    max_length: int
    pattern: str | None = None
    message: str = ""
    normalize: Callable[[str], str] | None = None
    compiled: re.Pattern[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "compiled", re.compile(self.pattern) if self.pattern else None)

    def check(self, value: str) -> str:
        if not is_plain_text(value):
            raise ValueError(UNSAFE_TEXT_MESSAGE)
        if self.compiled is not None and self.compiled.search(value) is None:
            raise ValueError(self.message)
        value = value.strip(SPACE_CHARS)
        return self.normalize(value) if self.normalize else value

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_after_validator_function(
            self.check, core_schema.str_schema(strict=True, max_length=self.max_length)
        )

    def __get_pydantic_json_schema__(self, schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["not"] = {"pattern": CONTROL_PATTERN}
        if self.pattern is not None:
            json_schema["pattern"] = self.pattern
        return json_schema


def integral(value: object) -> object:
    """JSON Schema's integer includes 4.0: so does the registry's; 4.5, "4" and true stay refused."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _number(value: object) -> object:
    # A Decimal only from the database (lifecycle re-reads rows); JSON gives int or float.
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError("must be a number")
    return value


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _national_id(value: str) -> str:
    return NATIONAL_ID_SEPARATORS.sub("", value).upper()


PlainText = Annotated[str, Text(500)]
# Never past the registry: not in events, logs, spans or dead-letter headers.
PERSONAL_FIELDS = ("head_of_household_name", "phone", "national_id", "email", "address")
MemberCount = Annotated[StrictInt, Field(ge=0, le=MAX_MEMBERS), BeforeValidator(integral)]
PositiveCount = Annotated[StrictInt, Field(ge=1, le=MAX_MEMBERS), BeforeValidator(integral)]
Income = Annotated[
    Decimal,
    BeforeValidator(_number),
    Field(ge=0, le=MAX_MONTHLY_INCOME, allow_inf_nan=False),
    AfterValidator(_cents),
    WithJsonSchema({"type": "number", "minimum": 0, "maximum": MAX_MONTHLY_INCOME}),
]
PHONE_MESSAGE = "must be a phone number: digits, spaces, ( ) or -, optionally starting with +"
NATIONAL_ID_MESSAGE = "must be a national id: 5 to 20 letters or digits, optionally with spaces or hyphens"


class FieldError(BaseModel):
    field: str
    message: str


class HouseholdFields(BaseModel):
    """A household's registry record, as a registrar or a partner system submits it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    head_of_household_name: Annotated[str, Text(200, NOT_BLANK, "must not be blank")]
    phone: Annotated[str, Text(32, PHONE, PHONE_MESSAGE)] | None = None
    national_id: Annotated[
        Annotated[str, Text(40, NATIONAL_ID, NATIONAL_ID_MESSAGE, _national_id)] | None,
        Field(description="5-20 letters or digits; spaces and hyphens are ignored"),
    ] = None
    email: Annotated[str, Text(254, EMAIL, "must be an email address")] | None = None
    address: PlainText | None = None
    region: Annotated[str, Text(16, REGION, "must be a region code"), Field(description="A known region code")]
    household_size: PositiveCount
    children_under_5: MemberCount = 0
    children_5_to_17: MemberCount = 0
    elderly_members: MemberCount = 0
    disabled_members: MemberCount = 0
    monthly_income: Annotated[Income, Field(description="0 to 1,000,000; rounded to the cent")]
    dwelling_rooms: PositiveCount = 1
    has_electricity: StrictBool = False
    has_piped_water: StrictBool = False
    owns_livestock: StrictBool = False

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
        unknown_region = all(
            e.field in ("region", "data.region") and e.message.startswith("unknown region") for e in self.errors
        )
        return "regions" if unknown_region and self.errors else "content"


def field_errors(error: ValidationError, whole: str = "(household)") -> list[FieldError]:
    """Per-field messages that never repeat the submitted value: it may be personal data."""
    return [
        FieldError(
            field=".".join(str(part) for part in detail["loc"]) or whole,
            message=str(detail["msg"]).removeprefix("Value error, "),
        )
        for detail in error.errors(include_input=False, include_url=False)
    ]


def parse_household(data: object, regions: frozenset[str] | tuple[str, ...]) -> HouseholdFields:
    try:
        return HouseholdFields.model_validate(data, context={"regions": frozenset(regions)})
    except ValidationError as error:
        raise InvalidHousehold(field_errors(error)) from None

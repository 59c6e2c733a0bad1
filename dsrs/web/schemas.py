"""What the OpenAPI document says of each route (`Operation`), and the response shapes several routes share."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict

from dsrs.registry.household import HouseholdFields

JsonSchema = dict[str, Any]
# The security scheme of the payment provider's callback, which holds a token of its own.
PROVIDER_SCHEME = "providerToken"


@dataclass(frozen=True)
class Reply:
    """A response other than the API's error shape: its description, and its body as a model or a schema."""

    description: str
    model: type[BaseModel] | None = None
    media: Mapping[str, JsonSchema] = field(default_factory=dict)  # media type -> schema, for non-model bodies


@dataclass(frozen=True)
class Operation:
    """One route's method as the document shows it. `replies` holds its successes; `errors` each 4xx or 5xx
    it answers itself (status -> when), in the error shape. The document adds the statuses every route of
    its kind shares: 401 and 403 where roles guard it, 400 and 413 where it reads a body, 422 for a query."""

    summary: str
    replies: Mapping[int, Reply]
    errors: Mapping[int, str] = field(default_factory=dict)
    body: type[BaseModel] | None = None
    body_required: bool = True
    # Bodies in other media types than JSON (media type -> schema), such as a program's YAML.
    other_bodies: Mapping[str, JsonSchema] = field(default_factory=dict)
    # Each field is a query parameter: its type, constraints and description are the parameter's.
    query: type[BaseModel] | None = None
    headers: Mapping[str, JsonSchema] = field(default_factory=dict)
    # A bearer scheme of its own instead of the users' JWT (the payment provider's callback).
    security_scheme: str | None = None


class FieldProblem(BaseModel):
    field: str | None = None
    reference_id: str | None = None
    message: str


class ApiError(BaseModel):
    """Every error the API answers: `error` says what went wrong; `errors` lists field problems; a few
    errors add details of their own, such as `current_version` or `allowed_roles`."""

    model_config = ConfigDict(extra="allow")

    error: str
    errors: list[FieldProblem] | None = None


class Items(BaseModel):
    model_config = ConfigDict(extra="allow")

    items: list[dict[str, Any]]


class ProgramItems(Items):
    """A program's list, such as its cycles or its re-assessment jobs."""

    program_id: str


class Page(Items):
    """One page of a list in id order: pass `next_after` as `after` for the next one (null: the last page)."""

    next_after: str | None


class HouseholdRecord(HouseholdFields):
    """A household as the registry holds it: its fields, id and version, and what the registry adds."""

    model_config = ConfigDict(extra="allow")

    id: str
    version: int


class HouseholdPage(BaseModel):
    items: list[HouseholdRecord]
    next_after: str | None


def ok(description: str, model: type[BaseModel]) -> Mapping[int, Reply]:
    return {200: Reply(description, model)}


class EmptyBody(BaseModel):
    """A body the route reads nothing from: none, or any JSON object."""

    model_config = ConfigDict(extra="allow")


class Record(BaseModel):
    """One record by its id; the route's summary says what it holds."""

    model_config = ConfigDict(extra="allow")

    id: str

"""A household's assessments across program versions, and one assessment explained by replaying it."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

from dsrs.eligibility.history import household_assessments
from dsrs.eligibility.replay import ReplayRefused, replay
from dsrs.web.context import path_id, started_runtime
from dsrs.web.params import QueryErrors
from dsrs.web.responses import ApiResponse, error
from dsrs.web.schemas import Operation, Page, ok

MAX_PAGE = 500


async def of_household(request: Request) -> Response:
    runtime = await started_runtime(request)
    query = QueryErrors(request.query_params)
    limit = query.limit(maximum=MAX_PAGE)
    after = query.parse("after", uuid.UUID, "must be an assessment id")
    if query.errors:
        return error(422, "invalid query", errors=query.errors)
    household_id = path_id(request, "household_id")
    page = None
    if household_id is not None:
        async with runtime.engine.connect() as connection:
            page = await household_assessments(connection, household_id, limit, after)
    if page is None:
        return error(404, "no such household")
    items, next_after = page
    return ApiResponse({"household_id": household_id, "items": items, "next_after": next_after})


async def explain(request: Request) -> Response:
    runtime = await started_runtime(request)
    assessment_id = path_id(request, "assessment_id")
    if assessment_id is None:
        return error(404, "no such assessment")
    try:
        async with runtime.engine.connect() as connection:
            replayed = await replay(connection, assessment_id, runtime.catalog)
    except ReplayRefused as refused:
        return error(409, f"the assessment cannot be replayed: {refused}")
    if replayed is None:
        return error(404, "no such assessment")
    return ApiResponse(replayed.to_json())


class AssessmentQuery(BaseModel):
    limit: int = Field(50, ge=1, le=MAX_PAGE)
    after: uuid.UUID | None = Field(None, description="The last id of the previous page (its next_after)")


class HouseholdAssessments(Page):
    household_id: str


class Explanation(BaseModel):
    """The assessment replayed under the program version that made it: the facts and each rule's outcome."""

    model_config = ConfigDict(extra="allow")


OF_HOUSEHOLD = Operation(
    "A household's assessments across program versions, newest first",
    ok("A page of assessments, without personal data", HouseholdAssessments),
    {404: "No such household"},
    query=AssessmentQuery,
)
EXPLAIN = Operation(
    "Explain an assessment by replaying it",
    ok("The replayed decision", Explanation),
    {404: "No such assessment", 409: "The assessment cannot be replayed"},
)

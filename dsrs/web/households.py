"""/api/v1/households: register, replace, read and list households."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request
from starlette.responses import Response

from dsrs.audit.trail import AuditEntry, record
from dsrs.monitoring.trace_context import new_traceparent
from dsrs.monitoring.tracing import current_traceparent
from dsrs.outbox.writer import add_events
from dsrs.registry.duplicates import Written
from dsrs.registry.household import HouseholdFields, InvalidHousehold, parse_household
from dsrs.registry.queries import PROGRAM_STATUSES, get_household, list_households
from dsrs.registry.store import (
    HouseholdInactive,
    HouseholdNotFound,
    Recorded,
    Submission,
    VersionConflict,
    create_household,
    current_household,
    replace_household,
)
from dsrs.web.body import BodyRejected, json_object
from dsrs.web.context import path_id, read_one, started_runtime
from dsrs.web.params import QueryErrors
from dsrs.web.responses import ApiResponse, error
from dsrs.web.schemas import HouseholdPage, HouseholdRecord, Operation, Reply, ok
from dsrs.web.security import principal_of
from dsrs.worker.runtime import Runtime

MAX_PAGE = 500


async def _fields(request: Request, runtime: Runtime) -> HouseholdFields | Response:
    try:
        body = await json_object(request, "the body must be a JSON object")
    except BodyRejected as rejected:
        return rejected.response
    try:
        return parse_household(body, runtime.settings.regions)
    except InvalidHousehold as invalid:
        return error(422, "invalid household", errors=[e.model_dump() for e in invalid.errors])


async def _match(connection: AsyncConnection, runtime: Runtime, submission: Submission, recorded: Recorded) -> None:
    """The same duplicate check as the intake topic's, in the write's own transaction."""
    traces = {submission.household_id: submission.traceparent}
    written = [Written(recorded, submission.fields)]
    await add_events(
        connection, await runtime.matching.check(connection, written, runtime.settings.source_name, traces)
    )


async def create(request: Request) -> Response:
    runtime = await started_runtime(request)
    fields = await _fields(request, runtime)
    if isinstance(fields, Response):
        return fields
    submission = Submission(uuid.uuid4(), fields, current_traceparent() or new_traceparent())
    async with runtime.engine.begin() as connection:
        recorded = await create_household(connection, submission, runtime.settings.source_name)
        await _match(connection, runtime, submission, recorded)
        after = {"id": str(recorded.household_id), "version": recorded.version, **fields.model_dump(mode="json")}
        entry = AuditEntry("household.register", "household", str(recorded.household_id), None, after)
        await record(connection, principal_of(request), entry)
    body = {"id": recorded.household_id, "version": recorded.version, **fields.model_dump()}
    return ApiResponse(body, status_code=201, headers={"Location": f"/api/v1/households/{recorded.household_id}"})


async def replace(request: Request) -> Response:
    runtime = await started_runtime(request)
    household_id = path_id(request, "household_id")
    if household_id is None:
        return error(404, "no such household")
    expected: int | None = None
    if "if-match" in request.headers:
        try:
            expected = int(request.headers["if-match"].strip('"W/'))
        except ValueError:
            return error(400, "If-Match must hold the household's version number")
    fields = await _fields(request, runtime)
    if isinstance(fields, Response):
        return fields
    submission = Submission(household_id, fields, current_traceparent() or new_traceparent())
    try:
        async with runtime.engine.begin() as connection:
            before = await current_household(connection, household_id)
            recorded = await replace_household(connection, submission, runtime.settings.source_name, expected)
            await _match(connection, runtime, submission, recorded)
            after = {"id": str(household_id), "version": recorded.version, **fields.model_dump(mode="json")}
            entry = AuditEntry("household.replace", "household", str(household_id), before, after)
            await record(connection, principal_of(request), entry)
    except HouseholdNotFound:
        return error(404, "no such household")
    except HouseholdInactive:
        return error(409, "the household is deactivated; reactivate it first", current_status="inactive")
    except VersionConflict as conflict:
        return error(409, "the household changed since you read it", current_version=conflict.current_version)
    return ApiResponse({"id": household_id, "version": recorded.version, **fields.model_dump()})


async def read(request: Request) -> Response:
    return await read_one(request, "household_id", get_household, "household")


async def listing(request: Request) -> Response:
    runtime = await started_runtime(request)
    params = request.query_params
    query = QueryErrors(params)
    limit = query.limit(maximum=MAX_PAGE)
    after = query.parse("after", uuid.UUID, "must be a household id")
    status = query.choice("status", PROGRAM_STATUSES)
    if (params.get("status") is None) != (params.get("program") is None):
        query.errors.append({"field": "status", "message": "program and status filter together"})
    if query.errors:
        return error(422, "invalid query", errors=query.errors)
    async with runtime.engine.connect() as connection:
        page = await list_households(connection, limit, after, params.get("region"), params.get("program"), status)
    return ApiResponse({"items": page.items, "next_after": page.next_after})


class HouseholdQuery(BaseModel):
    limit: int = Field(50, ge=1, le=MAX_PAGE)
    after: uuid.UUID | None = Field(None, description="The last id of the previous page (its next_after)")
    region: str | None = None
    program: str | None = Field(None, description="With status: households with that decision in this program")
    status: str | None = Field(None, json_schema_extra={"enum": list(PROGRAM_STATUSES)})


_INVALID = "A field is invalid: `errors` says which and why"
CREATE = Operation(
    "Register a household",
    {201: Reply("Registered; Location names it", HouseholdRecord)},
    {422: _INVALID},
    body=HouseholdFields,
)
LISTING = Operation(
    "List households, a page at a time", ok("A page of households", HouseholdPage), query=HouseholdQuery
)
READ = Operation(
    "A household with its current decisions and its payments",
    ok("The household", HouseholdRecord),
    {404: "No such household"},
)
REPLACE = Operation(
    "Replace a household's fields",
    ok("Replaced: the new version", HouseholdRecord),
    {
        400: "The body is not a JSON object, or If-Match is not a version number",
        404: "No such household",
        409: "The household changed since the If-Match version, or it is deactivated",
        422: _INVALID,
    },
    body=HouseholdFields,
    headers={"If-Match": {"type": "string", "description": "The version you read: the replace fails if it changed"}},
)

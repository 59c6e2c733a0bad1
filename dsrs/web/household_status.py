"""/api/v1/households/{id}/deactivate and /reactivate: a household leaves its programs, and comes back."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

from dsrs.audit.trail import AuditEntry, record
from dsrs.monitoring.trace_context import new_traceparent
from dsrs.monitoring.tracing import current_traceparent
from dsrs.registry.lifecycle import DEACTIVATION_REASONS, StatusChange, StatusUnchanged, deactivate, reactivate
from dsrs.registry.store import HouseholdNotFound
from dsrs.web.body import BodyRejected, json_object
from dsrs.web.context import path_id, started_runtime
from dsrs.web.responses import ApiResponse, error
from dsrs.web.schemas import EmptyBody, Operation, Record, ok
from dsrs.web.security import principal_of

REASONS = ", ".join(DEACTIVATION_REASONS)
REASON_HINT = f'the body must be a JSON object such as {{"reason": "moved"}}; reasons: {REASONS}'


async def _change(request: Request, action: str, reason: str | None) -> Response:
    runtime = await started_runtime(request)
    household_id = path_id(request, "household_id")
    if household_id is None:
        return error(404, "no such household")
    source = runtime.settings.source_name
    trace = current_traceparent() or new_traceparent()
    try:
        async with runtime.engine.begin() as connection:
            change: StatusChange
            if reason is not None:
                change = await deactivate(connection, household_id, reason, source, trace)
            else:
                change = await reactivate(connection, household_id, source, trace)
            entry = AuditEntry(f"household.{action}", "household", str(household_id), change.before, change.after)
            await record(connection, principal_of(request), entry)
    except HouseholdNotFound:
        return error(404, "no such household")
    except StatusUnchanged as unchanged:
        return error(409, str(unchanged), current_status=unchanged.status)
    return ApiResponse({**change.after, "id": household_id, "version": change.version})


async def deactivate_household(request: Request) -> Response:
    try:
        body = await json_object(request, REASON_HINT)
    except BodyRejected as rejected:
        return rejected.response
    reason = body.get("reason")
    unknown = sorted(set(body) - {"reason"})
    if reason not in DEACTIVATION_REASONS or unknown:
        message = f"must be one of {', '.join(DEACTIVATION_REASONS)}"
        errors = [{"field": "reason", "message": message}] if reason not in DEACTIVATION_REASONS else []
        errors += [{"field": name, "message": "unknown field"} for name in unknown]
        return error(422, "invalid body", errors=errors)
    return await _change(request, "deactivate", str(reason))


async def reactivate_household(request: Request) -> Response:
    try:
        await json_object(request, "the body must be empty or a JSON object", empty={})
    except BodyRejected as rejected:
        return rejected.response
    return await _change(request, "reactivate", None)


class Deactivation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(json_schema_extra={"enum": list(DEACTIVATION_REASONS)})


class StatusChanged(Record):
    version: int


_ERRORS = {404: "No such household", 409: "The household has that status already"}
DEACTIVATE = Operation(
    "Deactivate a household: it leaves its programs",
    ok("Deactivated: the household's status and new version", StatusChanged),
    {**_ERRORS, 422: "No known reason, or an unknown field"},
    body=Deactivation,
)
REACTIVATE = Operation(
    "Reactivate a household",
    ok("Reactivated: the household's status and new version", StatusChanged),
    _ERRORS,
    body=EmptyBody,
    body_required=False,
)

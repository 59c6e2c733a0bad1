"""/api/v1/audit: the audit trail, for auditors."""

from __future__ import annotations

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response

from dsrs.audit.trail import entries
from dsrs.web.context import started_runtime
from dsrs.web.params import MAX_BIGINT, QueryErrors
from dsrs.web.responses import ApiResponse, error
from dsrs.web.schemas import Items, Operation, ok


async def listing(request: Request) -> Response:
    runtime = await started_runtime(request)
    query = QueryErrors(request.query_params)
    limit = query.limit(default=100, maximum=1000)
    # Audit ids are bigint: a larger cursor would fail in PostgreSQL rather than match nothing.
    after = query.integer("after", 0, MAX_BIGINT, "must be an audit entry id, as next_after gives")
    if query.errors:
        return error(422, "invalid query", errors=query.errors)
    async with runtime.engine.connect() as connection:
        items = await entries(connection, limit, after)
    return ApiResponse({"items": items, "next_after": items[-1]["id"] if len(items) == limit else None})


class AuditQuery(BaseModel):
    limit: int = Field(100, ge=1, le=1000)
    after: int | None = Field(None, ge=0, le=MAX_BIGINT, description="The last id of the previous page")


class AuditPage(Items):
    next_after: int | None


LISTING = Operation("The audit trail, oldest first", ok("A page of audit entries", AuditPage), query=AuditQuery)

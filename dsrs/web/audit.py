"""/api/v1/audit: the audit trail, for auditors."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from dsrs.audit.trail import entries
from dsrs.web.context import started_runtime
from dsrs.web.params import MAX_BIGINT, QueryErrors
from dsrs.web.responses import ApiResponse, error


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

"""/api/v1/audit: the audit trail, for auditors."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from dsrs.audit.trail import entries
from dsrs.web.context import started_runtime
from dsrs.web.responses import ApiResponse, error


async def listing(request: Request) -> Response:
    runtime = await started_runtime(request)
    try:
        limit = int(request.query_params.get("limit", "100"))
        after = int(request.query_params["after"]) if "after" in request.query_params else None
        if not 1 <= limit <= 1000:
            raise ValueError
    except ValueError:
        return error(422, "invalid query", errors=[{"field": "limit/after", "message": "whole numbers; limit 1-1000"}])
    async with runtime.engine.connect() as connection:
        items = await entries(connection, limit, after)
    return ApiResponse({"items": items, "next_after": items[-1]["id"] if len(items) == limit else None})

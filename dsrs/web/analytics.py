"""/api/v1/analytics: live KPIs from the worker's tables, and the outbox's lag."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from starlette.requests import Request
from starlette.responses import Response

from dsrs.analytics.summary import series, summarize
from dsrs.analytics.windows import GRANULARITIES
from dsrs.web.context import runtime_of, started_runtime
from dsrs.web.responses import ApiResponse, error


async def summary(request: Request) -> Response:
    runtime = runtime_of(request)
    params = request.query_params
    return ApiResponse(summarize(runtime.tables.totals_items(), params.get("program"), params.get("region")))


async def windows(request: Request) -> Response:
    runtime = runtime_of(request)
    params = request.query_params
    granularity = params.get("granularity", "minute")
    if granularity not in GRANULARITIES:
        return error(422, "invalid query", errors=[{"field": "granularity", "message": f"one of {GRANULARITIES}"}])
    since = None
    if "since" in params:
        try:
            since = datetime.fromisoformat(params["since"])
            if since.tzinfo is None:
                raise ValueError
        except ValueError:
            return error(422, "invalid query", errors=[{"field": "since", "message": "ISO 8601 time with offset"}])
    points = series(runtime.tables.window_rows(), granularity, since, params.get("program"), params.get("region"))
    return ApiResponse({"granularity": granularity, "points": points})


async def outbox(request: Request) -> Response:
    runtime = await started_runtime(request)
    return ApiResponse(asdict(await runtime.relay.lag()))

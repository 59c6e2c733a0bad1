"""/api/v1/analytics: live KPIs from PostgreSQL (dsrs.analytics.reads), the registry's counts, and the outbox's lag."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

from dsrs.analytics.reads import current_eligibility, totals_items, window_rows
from dsrs.analytics.summary import series, summarize
from dsrs.analytics.windows import GRANULARITIES
from dsrs.payment.queries import payments_by_status
from dsrs.registry.queries import count_households
from dsrs.web.context import started_runtime
from dsrs.web.responses import ApiResponse, error
from dsrs.web.schemas import Operation, ok


async def summary(request: Request) -> Response:
    runtime = await started_runtime(request)
    params = request.query_params
    async with runtime.engine.connect() as connection:
        totals = await totals_items(connection)
        current = await current_eligibility(connection)
    return ApiResponse(summarize(totals, params.get("program"), params.get("region"), current))


async def windows(request: Request) -> Response:
    runtime = await started_runtime(request)
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
    async with runtime.engine.connect() as connection:
        rows = await window_rows(connection, granularity, since)
    points = series(rows, granularity, since, params.get("program"), params.get("region"))
    return ApiResponse({"granularity": granularity, "points": points})


async def registry(request: Request) -> Response:
    """What PostgreSQL holds now: households, and payments by their current state (`sent` included, which
    the event counts of the summary do not have)."""
    runtime = await started_runtime(request)
    async with runtime.engine.connect() as connection:
        households = await count_households(connection)
        by_status = await payments_by_status(connection)
    return ApiResponse({"households": households, "payments_by_status": by_status})


async def outbox(request: Request) -> Response:
    runtime = await started_runtime(request)
    return ApiResponse(asdict(await runtime.relay.lag()))


class Scope(BaseModel):
    program: str | None = Field(None, description="Only this program")
    region: str | None = Field(None, description="Only this region")


class WindowQuery(Scope):
    granularity: str = Field("minute", json_schema_extra={"enum": list(GRANULARITIES)})
    since: datetime | None = Field(None, description="Windows from this time on, with its offset")


class Summary(BaseModel):
    """Decision and payment totals, overall and by program and region."""

    model_config = ConfigDict(extra="allow")

    by_program: dict[str, dict[str, Any]]
    by_region: dict[str, dict[str, Any]]


class Windows(BaseModel):
    granularity: str
    points: list[dict[str, Any]]


class RegistryCounts(BaseModel):
    households: int
    payments_by_status: dict[str, Any]


class OutboxLag(BaseModel):
    pending: int
    oldest_pending_age_seconds: float


SUMMARY = Operation("Live KPIs", ok("The totals", Summary), query=Scope)
WINDOWS = Operation(
    "KPIs per time window",
    ok("A series of windows", Windows),
    {422: "An unknown granularity, or a time without its offset"},
    query=WindowQuery,
)
REGISTRY = Operation("What the registry holds now", ok("Households, and payments by status", RegistryCounts))
OUTBOX = Operation("The outbox's lag", ok("Events waiting for Kafka, and the oldest one's age", OutboxLag))

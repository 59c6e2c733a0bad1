"""Liveness and readiness probes; no authentication, no personal data."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel
from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse

from dsrs.web.context import runtime_of
from dsrs.web.schemas import Operation, Reply
from dsrs.worker.runtime import Runtime

PROBE_SECONDS = 3.0


async def live(request: Request) -> JSONResponse:
    return JSONResponse({"status": "alive"})


async def _postgres(runtime: Runtime) -> None:
    async with runtime.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


async def _kafka(runtime: Runtime) -> None:
    await runtime.producer.client.fetch_all_metadata()


async def _mongo(runtime: Runtime) -> None:
    await runtime.mongo.admin.command("ping")


CHECKS: dict[str, Callable[[Runtime], Awaitable[Any]]] = {"postgres": _postgres, "kafka": _kafka, "mongo": _mongo}


async def _probe(check: Callable[[Runtime], Awaitable[Any]], runtime: Runtime) -> str:
    try:
        async with asyncio.timeout(PROBE_SECONDS):
            await check(runtime)
        return "ok"
    except Exception as error:
        return f"failing: {type(error).__name__}"


async def ready(request: Request) -> JSONResponse:
    """Ready when PostgreSQL, Kafka and the Mongo store answer. Table recovery is done by construction:
    Faust starts this server only once the tables have recovered."""
    runtime = runtime_of(request)
    if not runtime.started:
        checks = {"runtime": "starting"}
    else:
        results = await asyncio.gather(*(_probe(check, runtime) for check in CHECKS.values()))
        checks = {"tables": "ok", **dict(zip(CHECKS, results, strict=True))}
    ok = all(value == "ok" for value in checks.values())
    return JSONResponse({"status": "ready" if ok else "not ready", "checks": checks}, status_code=200 if ok else 503)


class Liveness(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    checks: dict[str, str]


LIVE = Operation("Liveness probe", {200: Reply("The worker's web server answers", Liveness)})
READY = Operation(
    "Readiness probe",
    {
        200: Reply("PostgreSQL, Kafka and the Mongo store answer", Readiness),
        503: Reply("Starting, or a dependency does not answer: `checks` says which", Readiness),
    },
)

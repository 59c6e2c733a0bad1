"""Liveness and readiness probes; no authentication, no personal data."""

from __future__ import annotations

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse

from dsrs.runtime import Runtime


async def live(request: Request) -> JSONResponse:
    return JSONResponse({"status": "alive"})


async def ready(request: Request) -> JSONResponse:
    """Ready once tables are recovered (the server only starts then) and PostgreSQL answers."""
    runtime: Runtime = request.app.state.runtime
    checks: dict[str, str] = {}
    if not runtime.started:
        checks["runtime"] = "starting"
    else:
        try:
            async with runtime.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
            checks["postgres"] = "ok"
        except Exception as error:
            checks["postgres"] = type(error).__name__
    ok = all(value == "ok" for value in checks.values())
    return JSONResponse({"status": "ready" if ok else "not ready", "checks": checks}, status_code=200 if ok else 503)

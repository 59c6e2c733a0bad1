"""Liveness and readiness probes; no authentication, no personal data."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse


async def live(request: Request) -> JSONResponse:
    return JSONResponse({"status": "alive"})


async def ready(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ready"})

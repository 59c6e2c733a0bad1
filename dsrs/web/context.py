"""What every handler takes from its request: the worker's runtime, and ids from the path."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.requests import Request
from starlette.responses import Response

from dsrs.web.responses import ApiResponse, error
from dsrs.worker.runtime import Runtime


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def started_runtime(request: Request) -> Runtime:
    """The runtime, started: the API may serve before the worker's services have started it."""
    runtime = runtime_of(request)
    await runtime.start()
    return runtime


def path_id(request: Request, name: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(request.path_params[name])
    except ValueError:
        return None


async def read_one(
    request: Request,
    parameter: str,
    load: Callable[[AsyncConnection, uuid.UUID], Awaitable[dict[str, Any] | None]],
    what: str,
) -> Response:
    """GET of one record by the id in the path: the record, or a 404 for a malformed or unknown id."""
    runtime = await started_runtime(request)
    record_id = path_id(request, parameter)
    record = None
    if record_id is not None:
        async with runtime.engine.connect() as connection:
            record = await load(connection, record_id)
    return ApiResponse(record) if record is not None else error(404, f"no such {what}")

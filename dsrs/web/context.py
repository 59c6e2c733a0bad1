"""What every handler takes from its request: the worker's runtime, and ids from the path."""

from __future__ import annotations

import uuid

from starlette.requests import Request

from dsrs.runtime import Runtime


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

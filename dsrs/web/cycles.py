"""/api/v1/programs/{id}/cycles: each payment cycle's state, and its payments' count and total by status."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from starlette.requests import Request
from starlette.responses import Response

from dsrs.payment.cycle_reads import cycles
from dsrs.rules import Program, parse_cycle
from dsrs.web.context import started_runtime
from dsrs.web.responses import ApiResponse, error
from dsrs.web.schemas import Operation, ProgramItems, ok
from dsrs.worker.runtime import Runtime


def _program(runtime: Runtime, request: Request) -> Program | None:
    wanted = request.path_params["program_id"]
    return runtime.catalog.current.get(wanted)


async def listing(request: Request) -> Response:
    runtime = await started_runtime(request)
    program = _program(runtime, request)
    if program is None:
        return error(404, "no such program")
    async with runtime.engine.connect() as connection:
        items = await cycles(connection, program)
    return ApiResponse({"program_id": program.id, "items": items})


async def read(request: Request) -> Response:
    runtime = await started_runtime(request)
    program = _program(runtime, request)
    if program is None:
        return error(404, "no such program")
    cycle = request.path_params["cycle"]
    try:
        parse_cycle(cycle)
    except ValueError:
        return error(404, "no such cycle: cycles are named YYYY-MM")
    async with runtime.engine.connect() as connection:
        found = await cycles(connection, program, cycle)
    return ApiResponse(found[0]) if found else error(404, "no such cycle")


class Cycle(BaseModel):
    """A cycle's state, and its payments' count and total by status."""

    model_config = ConfigDict(extra="allow")

    cycle: str


_NO_PROGRAM = "No such program in the current catalog"
LISTING = Operation("A program's payment cycles", ok("The cycles", ProgramItems), {404: _NO_PROGRAM})
READ = Operation("One payment cycle", ok("The cycle", Cycle), {404: f"{_NO_PROGRAM}, or no such cycle"})

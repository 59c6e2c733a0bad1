"""/api/v1/programs: deploy a program version, read programs and their versions, retire a program, and
follow the re-assessments that activations start."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import Response

from dsrs.audit.trail import AuditEntry, record
from dsrs.programs.deploy import DeployRefused, VersionConflict, deploy, effective_time, retire
from dsrs.programs.reads import program_states, reassessment_jobs
from dsrs.programs.versions import version_of
from dsrs.rules.loader import PROGRAM_ID, VERSION
from dsrs.web.body import BodyRejected, json_object, read_body
from dsrs.web.context import path_id, started_runtime
from dsrs.web.params import QueryErrors
from dsrs.web.responses import ApiResponse, error
from dsrs.web.schemas import EmptyBody, Operation, ProgramItems, Record, Reply, ok
from dsrs.web.security import principal_of

YAML_TYPES = frozenset({"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"})
JSON_FIELDS = frozenset({"content", "effective_from"})
JSON_HINT = 'the body must be a JSON object such as {"content": "<program YAML>", "effective_from": "<RFC 3339 time>"}'
TIME_MESSAGE = "must be an RFC 3339 time with its offset, such as 2025-07-01T00:00:00Z"


def _field_errors(*errors: tuple[str, str]) -> Response:
    return error(422, "invalid program", errors=[{"field": field, "message": message} for field, message in errors])


def _effective_from(value: object, errors: list[tuple[str, str]]) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return effective_time(value)
        except ValueError:
            pass
    errors.append(("effective_from", TIME_MESSAGE))
    return None


async def _submission(request: Request) -> tuple[str, datetime | None] | Response:
    """The program text and its effective time, from a YAML body (time in `?effective_from=`) or a JSON one."""
    media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    errors: list[tuple[str, str]] = []
    try:
        if media in YAML_TYPES:
            try:
                content: object = (await read_body(request)).decode("utf-8")
            except UnicodeDecodeError:
                return _field_errors(("content", "must be UTF-8 text"))
            effective = _effective_from(request.query_params.get("effective_from"), errors)
        elif media == "application/json":
            if "effective_from" in request.query_params:
                errors.append(("effective_from", "with a JSON body, give it in the body"))
            body = await json_object(request, JSON_HINT)
            content = body.get("content")
            effective = _effective_from(body.get("effective_from"), errors)
            errors += [(name, "unknown field") for name in sorted(set(body) - JSON_FIELDS)]
        else:
            return error(415, "send the program as application/yaml, or as JSON with its text in `content`")
    except BodyRejected as rejected:
        return rejected.response
    if not isinstance(content, str) or not content.strip():
        errors.insert(0, ("content", "must be the program's YAML text"))
    elif not _encodable(content):
        errors.insert(0, ("content", "must be UTF-8 text (it holds an unpaired surrogate)"))
    if errors:
        return _field_errors(*errors)
    assert isinstance(content, str)
    return content, effective


def _encodable(content: str) -> bool:
    try:
        content.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


async def create(request: Request) -> Response:
    runtime = await started_runtime(request)
    submission = await _submission(request)
    if isinstance(submission, Response):
        return submission
    content, effective_from = submission
    principal = principal_of(request)
    try:
        async with runtime.engine.begin() as connection:
            deployed = await deploy(
                connection, content, principal.subject, datetime.now(UTC), runtime.settings.source_name, effective_from
            )
            if deployed.created:
                shown = deployed.version.to_json(with_content=False)
                entry = AuditEntry("program.deploy", "program", deployed.version.program_id, None, shown)
                await record(connection, principal, entry)
    except DeployRefused as refused:
        return _field_errors((refused.field, refused.reason))
    except VersionConflict as conflict:
        existing = conflict.existing
        return error(
            409,
            str(conflict),
            program_id=existing.program_id,
            version=existing.version,
            existing_sha256=existing.content_sha256,
        )
    version = deployed.version
    if not deployed.created:
        return ApiResponse(version.to_json())
    location = f"/api/v1/programs/{version.program_id}/versions/{version.version}"
    return ApiResponse(version.to_json(), status_code=201, headers={"Location": location})


async def listing(request: Request) -> Response:
    runtime = await started_runtime(request)
    async with runtime.engine.connect() as connection:
        states = await program_states(connection)
    return ApiResponse({"items": [state.to_json() for state in states]})


def _program_id(request: Request) -> str | None:
    """The program id of the path, or None for one no program can have (checked before any query)."""
    program_id: str = request.path_params["program_id"]
    return program_id if PROGRAM_ID.fullmatch(program_id) else None


async def version(request: Request) -> Response:
    runtime = await started_runtime(request)
    program_id = _program_id(request)
    wanted: str = request.path_params["version"]
    found = None
    if program_id is not None and VERSION.fullmatch(wanted):
        async with runtime.engine.connect() as connection:
            found = await version_of(connection, program_id, wanted)
    return ApiResponse(found.to_json()) if found is not None else error(404, "no such program version")


async def retire_program(request: Request) -> Response:
    runtime = await started_runtime(request)
    try:
        await json_object(request, "the body must be empty or a JSON object", empty={})
    except BodyRejected as rejected:
        return rejected.response
    program_id = _program_id(request)
    if program_id is None:
        return error(404, "no such program")
    principal = principal_of(request)
    async with runtime.engine.begin() as connection:
        retired = await retire(
            connection, program_id, principal.subject, datetime.now(UTC), runtime.settings.source_name
        )
        states = await program_states(connection, program_id)
        if retired:
            after: dict[str, Any] = {"retired": True, "retired_at": states[0].retired_at}
            await record(
                connection, principal, AuditEntry("program.retire", "program", program_id, {"retired": False}, after)
            )
    if not states:
        return error(404, "no such program")
    if not retired:
        return error(409, f"{program_id} is retired already", retired_at=states[0].retired_at)
    return ApiResponse(states[0].to_json())


async def reassessments(request: Request) -> Response:
    runtime = await started_runtime(request)
    query = QueryErrors(request.query_params)
    limit = query.limit(default=20, maximum=100)
    if query.errors:
        return error(422, "invalid query", errors=query.errors)
    program_id = _program_id(request)
    if program_id is None:
        return error(404, "no such program")
    async with runtime.engine.connect() as connection:
        known = await program_states(connection, program_id)
        items = await reassessment_jobs(connection, program_id, limit)
    if not known:
        return error(404, "no such program")
    return ApiResponse({"program_id": program_id, "items": items})


async def reassessment(request: Request) -> Response:
    runtime = await started_runtime(request)
    program_id = _program_id(request)
    job_id = path_id(request, "job_id")
    found: list[dict[str, Any]] = []
    if program_id is not None and job_id is not None:
        async with runtime.engine.connect() as connection:
            found = await reassessment_jobs(connection, program_id, 1, job_id)
    return ApiResponse(found[0]) if found else error(404, "no such re-assessment")


class ProgramSubmission(BaseModel):
    """A program version as JSON; as application/yaml, the body is the program's text alone."""

    model_config = ConfigDict(extra="forbid")

    content: str = Field(description="The program's YAML text")
    effective_from: str | None = Field(None, description=f"When it decides; {TIME_MESSAGE}")


class YamlQuery(BaseModel):
    effective_from: str | None = Field(None, description=f"With a YAML body only: {TIME_MESSAGE}")


class ProgramVersion(BaseModel):
    model_config = ConfigDict(extra="allow")

    program_id: str
    version: str
    content_sha256: str
    deployed_by: str
    deployed_at: str
    effective_from: str
    activated_at: str | None
    current: bool
    content: str | None = None


class ProgramState(BaseModel):
    program_id: str
    current_version: str | None
    retired: bool
    retired_at: str | None
    retired_by: str | None
    versions: list[ProgramVersion]


class ProgramList(BaseModel):
    items: list[ProgramState]


class JobQuery(BaseModel):
    limit: int = Field(20, ge=1, le=100)


_NO_PROGRAM = "No such program"
CREATE = Operation(
    "Deploy a program version",
    {
        200: Reply("The same version with the same text is deployed already", ProgramVersion),
        201: Reply("Deployed; Location names it", ProgramVersion),
    },
    {
        409: "The program has this version already, with other text",
        415: "Neither application/yaml nor application/json",
        422: "The program is invalid: `errors` says which field and why",
    },
    body=ProgramSubmission,
    other_bodies={media: {"type": "string"} for media in sorted(YAML_TYPES)},
    query=YamlQuery,
)
LISTING = Operation("Every program, with its versions", ok("The programs", ProgramList))
READ_VERSION = Operation(
    "One program version, with its text", ok("The version", ProgramVersion), {404: "No such program version"}
)
RETIRE = Operation(
    "Retire a program: it decides nothing more",
    ok("Retired", ProgramState),
    {404: _NO_PROGRAM, 409: "The program is retired already"},
    body=EmptyBody,
    body_required=False,
)
REASSESSMENTS = Operation(
    "A program's re-assessment jobs, newest first",
    ok("The jobs", ProgramItems),
    {404: _NO_PROGRAM},
    query=JobQuery,
)
REASSESSMENT = Operation(
    "One re-assessment job", ok("The job: its state and progress", Record), {404: "No such re-assessment"}
)

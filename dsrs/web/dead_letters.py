"""/api/v1/admin/dlq: what waits in the dead-letter topics with each letter's state, and replaying it (admins)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response

from dsrs.dlq.letters import letter_states
from dsrs.dlq.replay import read_dead_letters, replay, select_letters
from dsrs.events.topics import DEAD_LETTER_TOPICS
from dsrs.transport_security import kafka_client_options
from dsrs.web.context import started_runtime
from dsrs.web.responses import ApiResponse, error
from dsrs.web.schemas import Items, Operation, ok
from dsrs.web.security import principal_of
from dsrs.worker.runtime import Runtime


def _topics(runtime: Runtime, topic: str | None) -> list[str] | None:
    names = [runtime.settings.topic(name) for name in DEAD_LETTER_TOPICS]
    if topic is None:
        return names
    wanted = runtime.settings.topic(topic if topic.endswith(".dlq") else f"{topic}.dlq")
    return [wanted] if wanted in names else None


async def listing(request: Request) -> Response:
    runtime = await started_runtime(request)
    topics = _topics(runtime, request.query_params.get("topic"))
    if topics is None:
        return error(422, "invalid query", errors=[{"field": "topic", "message": "not a saga topic"}])
    settings = runtime.settings
    letters = await read_dead_letters(settings.bootstrap_servers, topics, **kafka_client_options(settings))
    states = await letter_states(runtime.engine)
    items = []
    for letter in letters:
        known = states.pop(letter.id, None)
        items.append(
            {**letter.summary(), "state": known.state if known else None, "cause": known.cause if known else None}
        )
    originals = {topic.removesuffix(".dlq") for topic in topics}
    held = [s.summary() for s in states.values() if s.held_in_database and s.original_topic in originals]
    return ApiResponse({"items": items, "held_in_database": held})


async def replay_letters(request: Request) -> Response:
    runtime = await started_runtime(request)
    params = request.query_params
    topics = _topics(runtime, params.get("topic"))
    if topics is None:
        return error(422, "invalid query", errors=[{"field": "topic", "message": "not a saga topic"}])
    settings = runtime.settings
    letters = select_letters(
        await read_dead_letters(settings.bootstrap_servers, topics, **kafka_client_options(settings)), params.get("id")
    )
    done = await replay(runtime.engine, runtime.producer, letters, principal_of(request).subject)
    return ApiResponse({"replayed": [letter.id for letter in done], "skipped": len(letters) - len(done)})


class TopicQuery(BaseModel):
    topic: str | None = Field(None, description="Only this saga topic's letters, such as household.registered")


class ReplayQuery(TopicQuery):
    id: str | None = Field(None, description="Only the letter with this id")


class DeadLetters(Items):
    held_in_database: list[dict[str, Any]]


class Replayed(BaseModel):
    replayed: list[str]
    skipped: int


_BAD_TOPIC = "Not a saga topic"
LISTING = Operation(
    "Dead letters, with each one's state", ok("The letters", DeadLetters), {422: _BAD_TOPIC}, query=TopicQuery
)
REPLAY = Operation(
    "Replay dead letters into their topics", ok("What was replayed", Replayed), {422: _BAD_TOPIC}, query=ReplayQuery
)

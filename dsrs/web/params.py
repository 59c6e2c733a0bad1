"""Query-string parsing shared by the list endpoints: each problem becomes a field error."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import date
from typing import TypeVar

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response

from dsrs.registry.household import UNSAFE_TEXT_MESSAGE, is_plain_text
from dsrs.web.responses import error
from dsrs.web.security import Handler

T = TypeVar("T")

# PostgreSQL's bigint, the widest integer a query reaches the database with.
MAX_BIGINT = 2**63 - 1
# ASCII digits only: int() also takes "1_000", " 7 " and other scripts' digits.
_DIGITS = re.compile(r"[0-9]{1,19}")


def whole_number(raw: str) -> int:
    if not _DIGITS.fullmatch(raw):
        raise ValueError(raw)
    return int(raw)


def text_errors(params: QueryParams) -> list[dict[str, str]]:
    """A field error for each value holding a control character or an unpaired surrogate."""
    names = dict.fromkeys(name for name, value in params.multi_items() if not is_plain_text(value))
    return [{"field": name, "message": UNSAFE_TEXT_MESSAGE} for name in names]


def plain_query(handler: Handler) -> Handler:
    """Refuses a query with control characters before any handler, or PostgreSQL, sees it."""

    async def check(request: Request) -> Response:
        problems = text_errors(request.query_params)
        if problems:
            return error(422, "invalid query", errors=problems)
        return await handler(request)

    check.__name__ = getattr(handler, "__name__", "plain_query")
    return check


class QueryErrors:
    def __init__(self, params: QueryParams) -> None:
        self.params = params
        self.errors: list[dict[str, str]] = []

    def parse(self, name: str, convert: Callable[[str], T], message: str) -> T | None:
        raw = self.params.get(name)
        if raw is None:
            return None
        try:
            return convert(raw)
        except ValueError:
            self.errors.append({"field": name, "message": message})
            return None

    def integer(self, name: str, minimum: int, maximum: int, message: str = "") -> int | None:
        message = message or f"must be a whole number from {minimum} to {maximum}"
        value = self.parse(name, whole_number, message)
        if value is not None and not minimum <= value <= maximum:
            self.errors.append({"field": name, "message": message})
            return None
        return value

    def limit(self, default: int = 50, maximum: int = 500) -> int:
        value = self.integer("limit", 1, maximum)
        return default if value is None else value

    def uuid(self, name: str) -> uuid.UUID | None:
        return self.parse(name, uuid.UUID, "must be an id")

    def date(self, name: str) -> date | None:
        return self.parse(name, date.fromisoformat, "must be a date, YYYY-MM-DD")

    def choice(self, name: str, choices: tuple[str, ...]) -> str | None:
        value = self.params.get(name)
        if value is not None and value not in choices:
            self.errors.append({"field": name, "message": f"must be one of {', '.join(choices)}"})
            return None
        return value

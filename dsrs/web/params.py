"""Query-string parsing shared by the list endpoints: each problem becomes a field error."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date
from typing import TypeVar

from starlette.datastructures import QueryParams

T = TypeVar("T")


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

    def limit(self, default: int = 50, maximum: int = 500) -> int:
        value = self.parse("limit", int, f"must be a whole number from 1 to {maximum}")
        if value is not None and not 1 <= value <= maximum:
            self.errors.append({"field": "limit", "message": f"must be a whole number from 1 to {maximum}"})
        return value if value is not None and 1 <= value <= maximum else default

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

"""Request bodies: size and nesting are bounded before anything parses them, and the JSON parsed is strict."""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from dsrs.web.responses import error

# A household is about 1 KiB of JSON; 64 times that is generous and cheap to hold.
MAX_BODY_BYTES = 64 * 1024
# The deepest body the API accepts is an object of scalars; 32 leaves room and bounds the parser's recursion.
MAX_JSON_DEPTH = 32

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_OPENING = frozenset(b"[{")
_NOT_BRACKETS = bytes(byte for byte in range(256) if byte not in b"[]{}")


class BodyRejected(Exception):
    """The body cannot be used; `response` says why, in the API's error shape."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def _too_large() -> BodyRejected:
    return BodyRejected(error(413, f"the body must be at most {MAX_BODY_BYTES} bytes"))


async def read_body(request: Request) -> bytes:
    """The body, refused once it passes MAX_BODY_BYTES: by its declared length or while it streams in."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
        raise _too_large()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _too_large()
        chunks.append(chunk)
    return b"".join(chunks)


def json_depth(raw: bytes) -> int:
    """How deeply arrays and objects nest, counted without recursion; brackets inside strings do not count."""
    brackets = _STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    depth = deepest = 0
    for bracket in brackets:
        depth += 1 if bracket in _OPENING else -1
        deepest = max(deepest, depth)
    return deepest


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(raw: bytes, hint: str) -> Any:
    """Strict JSON in UTF-8, nested at most MAX_JSON_DEPTH deep; `hint` says what the body should be."""
    if json_depth(raw) > MAX_JSON_DEPTH:
        raise BodyRejected(error(400, f"the body nests deeper than {MAX_JSON_DEPTH} levels"))
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except ValueError:  # also UnicodeDecodeError, and integers longer than Python converts
        raise BodyRejected(error(400, hint)) from None


async def json_object(request: Request, hint: str, empty: dict[str, Any] | None = None) -> dict[str, Any]:
    """The body as a JSON object; an empty body is `empty` when given, else refused with `hint`."""
    raw = await read_body(request)
    if not raw and empty is not None:
        return empty
    body = parse_json(raw, hint)
    if not isinstance(body, dict):
        raise BodyRejected(error(400, hint))
    return body

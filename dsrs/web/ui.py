"""/ui/: the live page for program staff. Static files only: the page reads its data from the API with the
viewer's own token, so serving it needs none."""

from __future__ import annotations

import functools
from importlib import resources

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from dsrs.web.responses import error
from dsrs.web.schemas import Operation, Reply

# Only these files are served: a name from the path never reaches the file system.
ASSETS = {
    "index.html": "text/html; charset=utf-8",
    "ui.js": "text/javascript; charset=utf-8",
    "ui.css": "text/css; charset=utf-8",
}

# Scripts and styles from this origin only (no inline script), data from this origin's API only.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # Revalidated on every load, so that a worker's upgrade shows at once.
    "Cache-Control": "no-cache",
}


@functools.cache
def _content(name: str) -> bytes:
    return (resources.files("dsrs.web") / "ui" / name).read_bytes()


def _asset(name: str) -> Response:
    return Response(_content(name), media_type=ASSETS[name], headers=HEADERS)


async def home(request: Request) -> Response:
    return RedirectResponse("/ui/", status_code=302)


async def page(request: Request) -> Response:
    return _asset("index.html")


async def asset(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in ASSETS:
        return error(404, "not found")
    return _asset(name)


_TEXT = {"type": "string"}
HOME = Operation("Redirects to the live page", {302: Reply("To /ui/")})
PAGE = Operation("The live page", {200: Reply("The page's HTML", media={"text/html": _TEXT})})
ASSET = Operation(
    "A file of the live page",
    {200: Reply("The file", media={media.partition(";")[0]: _TEXT for media in ASSETS.values()})},
    {404: "No such file"},
)

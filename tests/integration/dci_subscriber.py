"""A DCI subscriber of the tests' own: an HTTP server on a loopback port that records every callback, checks
its signature, and refuses the first attempt of each message on its flaky path, so that retries happen."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from dsrs.dci.errors import DciError
from dsrs.dci.signature import verify
from dsrs_dev.bench.environment import free_port

FLAKY = "/flaky"


@dataclass(frozen=True)
class Callback:
    path: str
    idempotency_key: str
    body: dict[str, Any]
    accepted: bool
    signed: bool

    @property
    def action(self) -> str:
        return str(self.body["header"]["action"])

    @property
    def message_id(self) -> str:
        return str(self.body["header"]["message_id"])


class Subscriber:
    def __init__(self, signing_key: str) -> None:
        self.port = free_port()
        self.signing_key = signing_key
        self.callbacks: list[Callback] = []
        self._lock = threading.Lock()
        subscriber = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status = subscriber.receive(self.path, self.headers.get("Idempotency-Key", ""), body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.http = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def receive(self, path: str, key: str, body: dict[str, Any]) -> int:
        try:
            verify(self.signing_key, body.get("signature"), body["header"], body["message"], time.time())
            signed = True
        except DciError:
            signed = False
        with self._lock:
            tried = any(c.message_id == body["header"]["message_id"] for c in self.callbacks)
            accepted = signed and (path != FLAKY or tried)
            self.callbacks.append(Callback(path, key, body, accepted, signed))
        return 200 if accepted else 503

    def accepted(self, action: str, path: str | None = None) -> list[Callback]:
        with self._lock:
            return [c for c in self.callbacks if c.accepted and c.action == action and path in (None, c.path)]


@contextmanager
def running_subscriber(signing_key: str) -> Iterator[Subscriber]:
    subscriber = Subscriber(signing_key)
    threading.Thread(target=subscriber.http.serve_forever, daemon=True).start()
    try:
        yield subscriber
    finally:
        subscriber.http.shutdown()

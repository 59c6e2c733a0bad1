"""OpenTelemetry tracing: one trace per household across the saga.

The W3C traceparent travels from the API request (or the partner's intake message) into the
outbox row, into the Kafka headers, and into every agent; each hop opens a span as a child of the
one before. Exporters by configuration: off (the default: spans are not recorded, but the trace
context still travels), console, OTLP over HTTP, or a JSON-lines file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.trace import Span, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from dsrs.monitoring.trace_context import TRACEPARENT, child_traceparent

_PROPAGATOR = TraceContextTextMapPropagator()
tracer = trace.get_tracer("dsrs")


class JsonLinesExporter(SpanExporter):
    """Appends finished spans to a file, one JSON object a line: for tests and for offline analysis."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with self.path.open("a") as file:
            for span in spans:
                context = span.get_span_context()
                parent = span.parent
                file.write(
                    json.dumps(
                        {
                            "name": span.name,
                            "trace_id": f"{context.trace_id:032x}" if context else None,
                            "span_id": f"{context.span_id:016x}" if context else None,
                            "parent_id": f"{parent.span_id:016x}" if parent else None,
                            "kind": span.kind.name,
                            "attributes": dict(span.attributes or {}),
                        }
                    )
                    + "\n"
                )
        return SpanExportResult.SUCCESS


_recording = False


def recording() -> bool:
    """Whether spans are exported; when not, only the traceparent needs to travel."""
    return _recording


def configure_tracing(exporter: str, service_name: str, otlp_endpoint: str | None, file: Path | None) -> None:
    global _recording
    if exporter == "off":
        return
    _recording = True
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    if exporter == "console":
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    elif exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint)))
    elif exporter == "jsonl":
        if file is None:
            raise ValueError("the jsonl exporter needs DSRS_TRACING_FILE")
        provider.add_span_processor(SimpleSpanProcessor(JsonLinesExporter(file)))
    trace.set_tracer_provider(provider)


def _context_of(traceparent: str | None) -> otel_context.Context | None:
    if not traceparent:
        return None
    return _PROPAGATOR.extract({TRACEPARENT: traceparent})


def traceparent_of(span: Span, fallback_parent: str | None = None) -> str:
    """The traceparent that makes the next hop a child of `span`."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=trace.set_span_in_context(span))
    return carrier.get(TRACEPARENT) or child_traceparent(fallback_parent)


def current_traceparent() -> str | None:
    span = trace.get_current_span()
    return traceparent_of(span) if span.get_span_context().is_valid else None


def start_span(name: str, parent: str | None, kind: SpanKind = SpanKind.INTERNAL, **attributes: Any) -> Span:
    return tracer.start_span(name, context=_context_of(parent), kind=kind, attributes=attributes or None)


@contextmanager
def span(name: str, parent: str | None, kind: SpanKind = SpanKind.INTERNAL, **attributes: Any) -> Iterator[Span]:
    with tracer.start_as_current_span(name, context=_context_of(parent), kind=kind, attributes=attributes or None) as s:
        yield s


def hop(
    name: str, parent: str | None, kind: SpanKind = SpanKind.INTERNAL, **attributes: Any
) -> AbstractContextManager[str]:
    """One hop of a household's trace, giving the traceparent the next hop continues from.

    With tracing off no span object is made, since they cost more than a hop's own work under load; the
    trace id still travels on, with a new span id.
    Nor is a generator made: the outbox makes two hops per event, and entering and leaving one cost
    more than making its traceparent."""
    if not _recording:
        return nullcontext(child_traceparent(parent))
    return _recorded_hop(name, parent, kind, **attributes)


@contextmanager
def _recorded_hop(name: str, parent: str | None, kind: SpanKind, **attributes: Any) -> Iterator[str]:
    with span(name, parent, kind, **attributes) as current:
        yield traceparent_of(current, parent)

"""The `dsrs-applied-by` header: the consumers whose effects of an event committed with the event itself.

A worker runs a household's registration, assessment and payment in one transaction (dsrs.worker.colocation).
Its events still go out through the outbox for every other consumer; this header names the stages that already
applied them, so that those stages' agents skip them. It is sound because the outbox row and those effects
commit together: a message that carries the header exists only if the effects do.
"""

from __future__ import annotations

from collections.abc import Iterable

APPLIED_BY = "dsrs-applied-by"


def applied_by_header(consumers: Iterable[str]) -> str:
    return ",".join(consumers)


def applied_by(header: str | None) -> frozenset[str]:
    """The consumers a header value names."""
    return frozenset(name for name in (header or "").split(",") if name)

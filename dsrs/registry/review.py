"""The review queue of suspected duplicates: officers list the pairs, merge one (one household stays, the
other leaves with reason `duplicate`) or dismiss it (the pair is remembered and not raised again).

A merged household is deactivated as any other (dsrs.registry.lifecycle): its `registry.household.deactivated`
event has the payment stage cancel its unsent payments. Both households keep their records, assessments
and payments; the pair row links them (`kept_household_id`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from dsrs.db.pages import keyset_page
from dsrs.db.schema import duplicate_pairs, households
from dsrs.registry.lifecycle import StatusChange, StatusUnchanged, deactivate
from dsrs.registry.queries import Page

DUPLICATE_REASON = "duplicate"


class PairNotFound(LookupError):
    pass


class PairConflict(RuntimeError):
    """The decision cannot be taken on the pair as it stands; `pair` is its current state."""

    def __init__(self, message: str, pair: dict[str, Any]) -> None:
        super().__init__(message)
        self.pair = pair


class NotInPair(ValueError):
    """The household to keep is not one of the pair's two."""


@dataclass(frozen=True)
class PairFilter:
    region: str | None = None
    min_score: Decimal | None = None
    status: str | None = None


@dataclass(frozen=True)
class Decision:
    before: dict[str, Any]
    after: dict[str, Any]
    # On a merge, the deactivation of the household that left.
    departure: StatusChange | None = None


def _pair(row: Any) -> dict[str, Any]:
    return dict(row._mapping)


async def list_pairs(connection: AsyncConnection, limit: int, after: uuid.UUID | None, where: PairFilter) -> Page:
    """Pairs in id order (raised order: ids are time-ordered); `after` is the previous page's last id."""
    conditions: list[ColumnElement[bool]] = []
    if where.region is not None:
        conditions.append(duplicate_pairs.c.region == where.region)
    if where.min_score is not None:
        conditions.append(duplicate_pairs.c.score >= where.min_score)
    if where.status is not None:
        conditions.append(duplicate_pairs.c.status == where.status)
    return Page(*await keyset_page(connection, duplicate_pairs, limit, after, *conditions))


async def get_pair(connection: AsyncConnection, pair_id: uuid.UUID) -> dict[str, Any] | None:
    row = (await connection.execute(select(duplicate_pairs).where(duplicate_pairs.c.id == pair_id))).one_or_none()
    return None if row is None else _pair(row)


async def _suspected(connection: AsyncConnection, pair_id: uuid.UUID) -> dict[str, Any]:
    row = (
        await connection.execute(select(duplicate_pairs).where(duplicate_pairs.c.id == pair_id).with_for_update())
    ).one_or_none()
    if row is None:
        raise PairNotFound(str(pair_id))
    pair = _pair(row)
    if pair["status"] != "suspected":
        raise PairConflict(f"the pair is already {pair['status']}", pair)
    return pair


async def _decide(connection: AsyncConnection, pair: dict[str, Any], decided_by: str, **values: Any) -> dict[str, Any]:
    row = (
        await connection.execute(
            update(duplicate_pairs)
            .where(duplicate_pairs.c.id == pair["id"])
            .values(decided_at=func.now(), decided_by=decided_by, **values)
            .returning(*duplicate_pairs.c)
        )
    ).one()
    return _pair(row)


async def dismiss(connection: AsyncConnection, pair_id: uuid.UUID, decided_by: str) -> Decision:
    pair = await _suspected(connection, pair_id)
    return Decision(pair, await _decide(connection, pair, decided_by, status="dismissed"))


async def merge(
    connection: AsyncConnection,
    pair_id: uuid.UUID,
    keep: uuid.UUID,
    leaving: uuid.UUID | None,
    decided_by: str,
    source: str,
    traceparent: str | None,
) -> Decision:
    """Keep `keep`, deactivate the pair's other household (`leaving`, when named) with reason `duplicate`."""
    pair = await _suspected(connection, pair_id)
    if leaving == keep:
        raise PairConflict("a household cannot be merged into itself", pair)
    members = (pair["household_id"], pair["candidate_id"])
    other = members[1] if keep == members[0] else members[0]
    if keep not in members or leaving not in (None, other):
        raise NotInPair(str(keep))
    leaving = other
    kept_status = await connection.scalar(select(households.c.status).where(households.c.id == keep))
    if kept_status != "active":
        raise PairConflict(f"the household to keep is {kept_status}", pair)
    try:
        departure = await deactivate(connection, leaving, DUPLICATE_REASON, source, traceparent)
    except StatusUnchanged as unchanged:
        raise PairConflict(f"the household to merge away is already {unchanged.status}", pair) from None
    after = await _decide(connection, pair, decided_by, status="merged", kept_household_id=keep)
    return Decision(pair, after, departure)

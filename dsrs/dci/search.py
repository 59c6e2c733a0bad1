"""Search: each request of a message is planned first (so that a bad one refuses the whole message before
anything runs), then run as one page of households in the registry."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import any_, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from dsrs.db.bulk import uuid_array
from dsrs.db.schema import households
from dsrs.dci.errors import (
    PAGINATION_INVALID,
    REFERENCE_ID_DUPLICATE,
    REQUEST_BAD,
    SEARCH_CRITERIA_INVALID,
    SORT_INVALID,
    DciError,
    QueryError,
)
from dsrs.dci.messages import DCI_VERSION, MAX_PAGE_SIZE, SearchItem, SearchRequest
from dsrs.dci.query import ATTRIBUTES, Condition, parse_query, sort_attribute, to_sql
from dsrs.dci.records import group_record

DEFAULT_PAGE_SIZE = 50


@dataclass(frozen=True)
class SearchPlan:
    reference_id: str
    timestamp: str
    condition: Condition
    order: tuple[tuple[str, bool], ...]  # (column, descending)
    page_size: int
    page_number: int
    locale: str | None


def _plan(item: SearchItem, personal: bool) -> SearchPlan:
    criteria = item.search_criteria
    if criteria.response_entity not in (None, "Group"):
        raise QueryError(SEARCH_CRITERIA_INVALID, "response_entity: the registry holds households (Group)")
    condition = parse_query(criteria.query_type, criteria.query, SEARCH_CRITERIA_INVALID, personal)
    order = tuple(
        (ATTRIBUTES[sort_attribute(sort.attribute_name, SORT_INVALID)].column, sort.sort_order == "desc")
        for sort in criteria.sort
    )
    page = criteria.pagination
    size, number = (page.page_size, page.page_number) if page else (DEFAULT_PAGE_SIZE, 1)
    if size > MAX_PAGE_SIZE:
        raise QueryError(PAGINATION_INVALID, f"page_size is at most {MAX_PAGE_SIZE}")
    return SearchPlan(item.reference_id, item.timestamp.isoformat(), condition, order, size, number, item.locale)


def unique_references(references: Iterable[str]) -> None:
    seen: set[str] = set()
    for reference in references:
        if reference in seen:
            raise DciError(REQUEST_BAD, f"{REFERENCE_ID_DUPLICATE}: each reference_id once")
        seen.add(reference)


def plan_search(request: SearchRequest, personal: bool) -> list[SearchPlan]:
    """Every request's plan, or the message refused naming the first bad request's reason."""
    unique_references(item.reference_id for item in request.search_request)
    plans = []
    for index, item in enumerate(request.search_request):
        try:
            plans.append(_plan(item, personal))
        except QueryError as error:
            raise DciError(REQUEST_BAD, f"search_request.{index}: {error}") from None
    return plans


async def run(connection: AsyncConnection, plan: SearchPlan) -> dict[str, Any]:
    """One page of the plan's households, as the outcome kept with the transaction: ids and counts only."""
    where = to_sql(plan.condition)
    total = int(await connection.scalar(select(func.count()).select_from(households).where(where)) or 0)
    columns = [households.c[name].desc() if descending else households.c[name] for name, descending in plan.order]
    query = (
        select(households.c.id)
        .where(where)
        .order_by(*columns, households.c.id)
        .limit(plan.page_size)
        .offset((plan.page_number - 1) * plan.page_size)
    )
    ids = [str(row.id) for row in await connection.execute(query)]
    return {
        "reference_id": plan.reference_id,
        "timestamp": plan.timestamp,
        "household_ids": ids,
        "pagination": {"page_size": plan.page_size, "page_number": plan.page_number, "total_count": total},
        "locale": plan.locale,
    }


async def households_by_id(connection: AsyncConnection, ids: Iterable[str]) -> dict[str, Mapping[str, Any]]:
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return {}
    rows = await connection.execute(
        select(households).where(households.c.id == any_(uuid_array([uuid.UUID(i) for i in wanted])))
    )
    return {str(row.id): dict(row._mapping) for row in rows}


def search_response(
    transaction_id: str,
    correlation_id: str,
    outcomes: Sequence[Mapping[str, Any]],
    rows: Mapping[str, Mapping[str, Any]],
    personal: bool,
) -> dict[str, Any]:
    """The standard's SearchResponse: each request's page of Group records (those still in the registry)."""
    items = []
    for outcome in outcomes:
        records = [group_record(rows[i], personal) for i in outcome["household_ids"] if i in rows]
        item: dict[str, Any] = {
            "reference_id": outcome["reference_id"],
            "timestamp": outcome["timestamp"],
            "status": "succ",
            "data": {"version": DCI_VERSION, "reg_records": records},
            "pagination": outcome["pagination"],
        }
        if outcome.get("locale"):
            item["locale"] = outcome["locale"]
        items.append(item)
    return {"transaction_id": transaction_id, "correlation_id": correlation_id, "search_response": items}

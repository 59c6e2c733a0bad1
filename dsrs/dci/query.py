"""DCI query expressions, translated: the standard's three query types become one condition tree, which
becomes SQL for a search and a Python test for a subscription's filter on an event.

- `idtype-value`: {"type": "household_id" | "national_id" | "phone", "value": ...}
- `predicate`: [{"seq_num", "expression1": {attribute_name, operator, attribute_value}, "condition": and | or
  | not, "expression2": {...}}, ...]: items in seq_num order, all of which must hold ("not": 1 and not 2)
- `expression`: {"type": ..., "value": {"expression": {"collection": "Group", "query": Q}}}, where Q is
  {"$and": [Q, ...]}, {"$or": [Q, ...]}, {"$not": Q} or {attribute: {"$eq"|"$gt"|"$lt"|"$gte"|"$lte"|"$in": v}}
"""

from __future__ import annotations

import operator
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, not_, or_

from dsrs.db.schema import households
from dsrs.dci.errors import QueryError
from dsrs.registry.household import NATIONAL_ID_SEPARATORS

Kind = Literal["int", "decimal", "bool", "text", "uuid"]
OPERATORS = ("eq", "gt", "lt", "ge", "le", "in")
ORDERED = frozenset({"gt", "lt", "ge", "le"})
MAX_IN = 100
MAX_TERMS = 50
# Beyond what any household holds, and within what PostgreSQL's columns compare with.
MAX_INT = 2**31 - 1
MAX_DECIMAL = Decimal(10) ** 15


@dataclass(frozen=True)
class Attribute:
    column: str
    kind: Kind
    personal: bool = False


ATTRIBUTES: Mapping[str, Attribute] = {
    "household_id": Attribute("id", "uuid"),
    "region": Attribute("region", "text"),
    "status": Attribute("status", "text"),
    "household_size": Attribute("household_size", "int"),
    "children_under_5": Attribute("children_under_5", "int"),
    "children_5_to_17": Attribute("children_5_to_17", "int"),
    "elderly_members": Attribute("elderly_members", "int"),
    "disabled_members": Attribute("disabled_members", "int"),
    "monthly_income": Attribute("monthly_income", "decimal"),
    "dwelling_rooms": Attribute("dwelling_rooms", "int"),
    "has_electricity": Attribute("has_electricity", "bool"),
    "has_piped_water": Attribute("has_piped_water", "bool"),
    "owns_livestock": Attribute("owns_livestock", "bool"),
    "head_of_household_name": Attribute("head_of_household_name", "text", personal=True),
    "phone": Attribute("phone", "text", personal=True),
    "national_id": Attribute("national_id", "text", personal=True),
    "email": Attribute("email", "text", personal=True),
    "address": Attribute("address", "text", personal=True),
}
# The standard's own examples' names for the same attributes.
ALIASES = {"group_size": "household_size", "location": "region", "id": "household_id", "mobile": "phone"}
_MONGO_OPERATORS = {"$eq": "eq", "$gt": "gt", "$lt": "lt", "$gte": "ge", "$ge": "ge", "$lte": "le", "$le": "le"}
_MONGO_OPERATORS["$in"] = "in"
_COMPARE = {"eq": operator.eq, "gt": operator.gt, "lt": operator.lt, "ge": operator.ge, "le": operator.le}


@dataclass(frozen=True)
class Comparison:
    attribute: str
    operator: str
    value: Any  # already of the attribute's kind; a tuple for "in"


@dataclass(frozen=True)
class AllOf:
    parts: tuple[Condition, ...]


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Condition, ...]


@dataclass(frozen=True)
class Negation:
    part: Condition


Condition = Comparison | AllOf | AnyOf | Negation


class _Reader:
    """Turns one query into a Condition, counting its terms; `reason` names what a problem rejects."""

    def __init__(self, reason: str, personal: bool) -> None:
        self.reason = reason
        self.personal = personal
        self.terms = 0

    def fail(self, message: str) -> QueryError:
        return QueryError(self.reason, message)

    def attribute(self, name: Any) -> str:
        key = ALIASES.get(name, name) if isinstance(name, str) else ""
        if key not in ATTRIBUTES:
            raise self.fail(f"unknown attribute; known: {', '.join(ATTRIBUTES)}")
        if ATTRIBUTES[key].personal and not self.personal:
            raise self.fail(f"{key} is personal data, which your role may not search or filter by")
        return key

    def comparison(self, name: Any, operator: Any, value: Any) -> Comparison:
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise self.fail(f"at most {MAX_TERMS} comparisons")
        key = self.attribute(name)
        kind = ATTRIBUTES[key].kind
        if operator not in OPERATORS:
            raise self.fail(f"operator must be one of {', '.join(OPERATORS)}")
        if operator in ORDERED and kind not in ("int", "decimal"):
            raise self.fail(f"{key} compares with eq or in only")
        if operator == "in":
            if not isinstance(value, list) or not 1 <= len(value) <= MAX_IN:
                raise self.fail(f"in takes a list of 1 to {MAX_IN} values")
            return Comparison(key, operator, tuple(self.value(key, kind, v) for v in value))
        return Comparison(key, operator, self.value(key, kind, value))

    def value(self, key: str, kind: Kind, value: Any) -> Any:
        try:
            return _coerce(key, kind, value)
        except (ValueError, InvalidOperation, TypeError):
            raise self.fail(f"{key} takes a value of kind {kind}") from None

    def predicates(self, query: Any) -> Condition:
        if not isinstance(query, list) or not 1 <= len(query) <= MAX_TERMS:
            raise self.fail(f"a predicate query is a list of 1 to {MAX_TERMS} expressions")
        parts: list[Condition] = []
        for item in sorted(query, key=_sequence):
            if not isinstance(item, dict) or not isinstance(item.get("expression1"), dict):
                raise self.fail("each predicate needs expression1")
            first = self.predicate(item["expression1"])
            condition, second = item.get("condition"), item.get("expression2")
            if condition is None and second is None:
                parts.append(first)
                continue
            if condition not in ("and", "or", "not") or not isinstance(second, dict):
                raise self.fail("condition (and, or, not) and expression2 go together")
            other = self.predicate(second)
            if condition == "or":
                parts.append(AnyOf((first, other)))
            else:
                parts.append(AllOf((first, other if condition == "and" else Negation(other))))
        return parts[0] if len(parts) == 1 else AllOf(tuple(parts))

    def predicate(self, expression: dict[str, Any]) -> Comparison:
        missing = {"attribute_name", "operator", "attribute_value"} - set(expression)
        if missing:
            raise self.fail(f"an expression needs {', '.join(sorted(missing))}")
        return self.comparison(expression["attribute_name"], expression["operator"], expression["attribute_value"])

    def identifier(self, query: Any) -> Condition:
        if not isinstance(query, dict) or not isinstance(query.get("type"), str) or "value" not in query:
            raise self.fail("an idtype-value query is {type, value}")
        if query["type"].lower() not in ("household_id", "national_id", "phone", "mobile"):
            raise self.fail("identifier type must be household_id, national_id or phone")
        return self.comparison(query["type"].lower(), "eq", query["value"])

    def expression(self, query: Any) -> Condition:
        value = query.get("value") if isinstance(query, dict) else None
        expression = value.get("expression") if isinstance(value, dict) else None
        if not isinstance(expression, dict) or not isinstance(expression.get("query"), dict):
            raise self.fail("an expression query is {type, value: {expression: {collection, query}}}")
        if expression.get("collection", "Group") != "Group":
            raise self.fail("the only collection is Group")
        return self.mongo(expression["query"])

    def mongo(self, query: Any) -> Condition:
        if not isinstance(query, dict) or not query:
            raise self.fail("each expression is a non-empty object")
        parts: list[Condition] = []
        for key, value in query.items():
            if key in ("$and", "$or"):
                if not isinstance(value, list) or not value:
                    raise self.fail(f"{key} takes a non-empty list")
                inner = tuple(self.mongo(part) for part in value)
                parts.append(AllOf(inner) if key == "$and" else AnyOf(inner))
            elif key == "$not":
                parts.append(Negation(self.mongo(value)))
            elif isinstance(value, dict):
                if len(value) != 1 or next(iter(value)) not in _MONGO_OPERATORS:
                    raise self.fail(f"each attribute takes one operator of {', '.join(_MONGO_OPERATORS)}")
                operator, operand = next(iter(value.items()))
                parts.append(self.comparison(key, _MONGO_OPERATORS[operator], operand))
            else:
                parts.append(self.comparison(key, "eq", value))
        return parts[0] if len(parts) == 1 else AllOf(tuple(parts))


def _sequence(item: Any) -> float:
    number = item.get("seq_num", 0) if isinstance(item, dict) else 0
    return float(number) if isinstance(number, int | float) and not isinstance(number, bool) else 0.0


def _coerce(key: str, kind: Kind, value: Any) -> Any:
    """A query value as the attribute's kind: numbers may come as JSON numbers or as their text."""
    if isinstance(value, bool) != (kind == "bool") or isinstance(value, dict | list) or value is None:
        raise ValueError(key)
    if kind == "bool":
        return value
    if kind == "int":
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(key)
        number = int(value)
        if abs(number) > MAX_INT:
            raise ValueError(key)
        return number
    if kind == "decimal":
        decimal = Decimal(str(value))
        if not decimal.is_finite() or abs(decimal) > MAX_DECIMAL:
            raise ValueError(key)
        return decimal
    if not isinstance(value, str) or not 0 < len(value) <= 200:
        raise ValueError(key)
    if kind == "uuid":
        return uuid.UUID(value)
    return NATIONAL_ID_SEPARATORS.sub("", value).upper() if key == "national_id" else value


def parse_query(query_type: str, query: Any, reason: str, personal: bool) -> Condition:
    """The query as a Condition, or a QueryError with `reason` (the standard's status reason code)."""
    reader = _Reader(reason, personal)
    if query_type == "idtype-value":
        return reader.identifier(query)
    if query_type == "predicate":
        return reader.predicates(query)
    if query_type == "expression":
        return reader.expression(query)
    raise reader.fail("query_type must be idtype-value, expression or predicate")


def sort_attribute(name: str, reason: str) -> str:
    """A sort's column: any attribute that is not personal data."""
    return _Reader(reason, personal=False).attribute(name)


def to_sql(condition: Condition) -> ColumnElement[bool]:
    if isinstance(condition, AllOf):
        return and_(*(to_sql(part) for part in condition.parts))
    if isinstance(condition, AnyOf):
        return or_(*(to_sql(part) for part in condition.parts))
    if isinstance(condition, Negation):
        return not_(to_sql(condition.part))
    column = households.c[ATTRIBUTES[condition.attribute].column]
    if condition.operator == "in":
        return column.in_(condition.value)
    compared: ColumnElement[bool] = _COMPARE[condition.operator](column, condition.value)
    return compared


def matches(condition: Condition, facts: Mapping[str, Any]) -> bool:
    """Whether a household's facts (as an event or row holds them) meet the condition."""
    if isinstance(condition, AllOf):
        return all(matches(part, facts) for part in condition.parts)
    if isinstance(condition, AnyOf):
        return any(matches(part, facts) for part in condition.parts)
    if isinstance(condition, Negation):
        return not matches(condition.part, facts)
    attribute = ATTRIBUTES[condition.attribute]
    raw = facts.get(condition.attribute)
    if raw is None:
        return False
    try:
        value = _coerce(condition.attribute, attribute.kind, str(raw) if attribute.kind == "uuid" else raw)
    except (ValueError, InvalidOperation, TypeError):
        return False
    if condition.operator == "in":
        return value in condition.value
    return bool(_COMPARE[condition.operator](value, condition.value))


def to_document(condition: Condition) -> dict[str, Any]:
    """A JSON form of the tree, to store with a subscription."""
    if isinstance(condition, AllOf | AnyOf):
        return {"all" if isinstance(condition, AllOf) else "any": [to_document(part) for part in condition.parts]}
    if isinstance(condition, Negation):
        return {"not": to_document(condition.part)}
    value = condition.value
    shown = [_json(v) for v in value] if isinstance(value, tuple) else _json(value)
    return {"attribute": condition.attribute, "operator": condition.operator, "value": shown}


def _json(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal | uuid.UUID) else value


def from_document(document: Mapping[str, Any]) -> Condition:
    """The tree stored by `to_document`, read back (its values as the attribute's kind again)."""
    if "all" in document:
        return AllOf(tuple(from_document(part) for part in document["all"]))
    if "any" in document:
        return AnyOf(tuple(from_document(part) for part in document["any"]))
    if "not" in document:
        return Negation(from_document(document["not"]))
    key, operator = document["attribute"], document["operator"]
    kind = ATTRIBUTES[key].kind
    value = document["value"]
    if operator == "in":
        return Comparison(key, operator, tuple(_coerce(key, kind, v) for v in value))
    return Comparison(key, operator, _coerce(key, kind, value))

"""Many-row INSERTs as one statement whose text does not depend on how many rows there are.

SQLAlchemy sends an executemany INSERT ... RETURNING as VALUES lists rendered for each batch size
("insertmanyvalues"). Every batch size is then a statement of its own for PostgreSQL to parse and
plan, and asyncpg keeps up to 100 of them prepared per connection, so a worker's memory grows with
every batch size it meets. Each column passed as one array and unnested gives a single statement for
every batch, parsed once per connection.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import JSON, Table, Text, bindparam, cast, func, select
from sqlalchemy.dialects.postgresql import ARRAY, UUID, Insert, insert

from dsrs.db.json_text import json_text


def insert_arrays(table: Table, columns: Sequence[str]) -> Insert:
    """INSERT INTO table (columns) SELECT * FROM unnest(:column, ...); execute with `arrays(...)`."""
    parameters = [bindparam(name, type_=ARRAY(_carried_as(table, name))) for name in columns]
    rows = func.unnest(*parameters).table_valued(*columns).render_derived()
    values = [cast(rows.c[name], table.c[name].type) if _is_json(table, name) else rows.c[name] for name in columns]
    return insert(table).from_select(list(columns), select(*values))


def arrays(table: Table, rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> dict[str, list[Any]]:
    """The rows as one list per column, JSON documents as their text."""
    return {name: _column(table, rows, name) for name in columns}


def _column(table: Table, rows: Sequence[Mapping[str, Any]], name: str) -> list[Any]:
    if _is_json(table, name):
        return [json_text(row[name]) for row in rows]
    return [row[name] for row in rows]


def _is_json(table: Table, name: str) -> bool:
    return isinstance(table.c[name].type, JSON)


def _carried_as(table: Table, name: str) -> Any:
    # A JSON document that is a list would be taken for one more dimension of the array: send it as text.
    return Text() if _is_json(table, name) else table.c[name].type


def uuid_array(ids: Sequence[uuid.UUID], name: str = "ids") -> Any:
    """One array parameter for `= ANY(...)`: an IN list would be a statement of its own for every batch size."""
    return bindparam(name, list(ids), type_=ARRAY(UUID(as_uuid=True)))

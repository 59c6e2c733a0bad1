"""Records API writes in the audit trail, inside the transaction of the write itself.

Digests, not copies: the trail proves what a record was without holding a second copy of
personal data. The digest is SHA-256 over the record as canonical JSON.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from dsrs.auth.tokens import Principal
from dsrs.db.schema import audit_log


def digest(record: dict[str, Any] | None) -> str | None:
    if record is None:
        return None
    canonical = json.dumps(record, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class AuditEntry:
    action: str
    resource_type: str
    resource_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


async def record(connection: AsyncConnection, principal: Principal, entry: AuditEntry) -> None:
    await connection.execute(
        insert(audit_log).values(
            actor=principal.subject,
            roles=sorted(role.value for role in principal.roles),
            action=entry.action,
            resource_type=entry.resource_type,
            resource_id=entry.resource_id,
            before_digest=digest(entry.before),
            after_digest=digest(entry.after),
        )
    )


async def entries(connection: AsyncConnection, limit: int, after: int | None = None) -> list[dict[str, Any]]:
    query = select(audit_log).order_by(audit_log.c.id).limit(limit)
    if after is not None:
        query = query.where(audit_log.c.id > after)
    return [dict(row._mapping) for row in await connection.execute(query)]

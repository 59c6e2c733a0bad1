"""DCI requests as a partner's system (an SPMIS) sends them, for the unit, conformance and integration tests."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

from dsrs.dci.signature import Signer


def now() -> str:
    return datetime.now(UTC).isoformat()


def request(
    action: str, message: dict[str, Any], total: int, key: str | None, sender_uri: str | None = None
) -> dict[str, Any]:
    """A DCI request from the test's SPMIS, signed with `key` when given."""
    header: dict[str, Any] = {
        "version": "1.0.0",
        "message_id": str(uuid.uuid4()),
        "message_ts": now(),
        "action": action,
        "sender_id": "spmis.test",
        "receiver_id": "dsrs",
        "total_count": total,
        "is_msg_encrypted": False,
    }
    if sender_uri is not None:
        header["sender_uri"] = sender_uri
    document: dict[str, Any] = {"header": header, "message": message}
    if key is not None:
        document["signature"] = Signer(key, "spmis-1", "spmis.test").sign(header, message, time.time())
    return document


def search_message(*criteria: dict[str, Any]) -> dict[str, Any]:
    items = [{"reference_id": f"ref-{n}", "timestamp": now(), "search_criteria": c} for n, c in enumerate(criteria)]
    return {"transaction_id": f"txn-{uuid.uuid4().hex[:12]}", "search_request": items}


def predicate(*expressions: tuple[str, str, Any]) -> list[dict[str, Any]]:
    return [
        {"seq_num": n, "expression1": {"attribute_name": name, "operator": operator, "attribute_value": value}}
        for n, (name, operator, value) in enumerate(expressions, 1)
    ]

"""G2P Connect disbursement messages (https://g2p-connect.github.io/specs): the `disburse` request, the
`disburse/status` request, and the `disbursements_status` entries that `on-disburse` and the status reply
carry. Every message is `{"signature", "header", "message"}`; DSRS does not sign (TLS and bearer tokens)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from dsrs.payment.providers.base import PaymentOrder

VERSION = "1.0.0"
# RequestStatus: received, pending, success, rejected. Only the last two settle a disbursement.
SETTLED = {"SUCC": "completed", "RJCT": "failed"}


class InvalidCallback(ValueError):
    """An on-disburse message DSRS cannot read."""


@dataclass(frozen=True)
class Parties:
    sender_id: str
    receiver_id: str
    sender_uri: str | None
    payer_fa: str


@dataclass(frozen=True)
class DisbursementStatus:
    reference_id: str
    status: str  # SUCC, RJCT, PDNG or RCVD
    amount: Decimal | None
    currency: str | None
    timestamp: datetime
    reason: str | None

    @property
    def outcome(self) -> str | None:
        """'completed' or 'failed' once settled; None while the provider still works on it."""
        return SETTLED.get(self.status)


def _header(action: str, parties: Parties, count: int) -> dict[str, Any]:
    header: dict[str, Any] = {
        "version": VERSION,
        "message_id": str(uuid.uuid4()),
        "message_ts": datetime.now(UTC).isoformat(),
        "action": action,
        "sender_id": parties.sender_id,
        "receiver_id": parties.receiver_id,
        "total_count": count,
        "is_msg_encrypted": False,
    }
    if parties.sender_uri:
        header["sender_uri"] = parties.sender_uri
    return header


def disburse_request(order: PaymentOrder, parties: Parties) -> dict[str, Any]:
    """One disbursement per request; the attempt's idempotency key is its transaction and reference id, so
    a resubmitted attempt is recognised by the provider and paid once."""
    payee = f"token:{order.household_id or order.payment_id}@dsrs"
    disbursement = {
        "reference_id": order.idempotency_key,
        "payer_fa": parties.payer_fa,
        "payee_fa": payee,
        "amount": str(order.amount),
        "currency_code": order.currency,
        "note": f"DSRS payment {order.payment_id}",
    }
    message = {"transaction_id": order.idempotency_key, "disbursements": [disbursement]}
    return {"signature": None, "header": _header("disburse", parties, 1), "message": message}


def status_request(reference_ids: Sequence[str], parties: Parties) -> dict[str, Any]:
    message = {
        "transaction_id": str(uuid.uuid4()),
        "txnstatus_request": {
            "reference_id": str(uuid.uuid4()),
            "txn_type": "disburse",
            "attribute_type": "reference_id_list",
            "attribute_value": list(reference_ids),
        },
    }
    return {"signature": None, "header": _header("status", parties, len(reference_ids)), "message": message}


def ack(correlation_id: str | None = None) -> dict[str, Any]:
    return {
        "message": {
            "ack_status": "ACK",
            "timestamp": datetime.now(UTC).isoformat(),
            "correlation_id": correlation_id or str(uuid.uuid4()),
        }
    }


def parse_statuses(entries: object) -> list[DisbursementStatus]:
    if not isinstance(entries, list):
        raise InvalidCallback("message.disbursements_status must be a list")
    statuses = []
    for number, entry in enumerate(entries):
        try:
            if not isinstance(entry, dict):
                raise TypeError
            amount = entry.get("amount")
            statuses.append(
                DisbursementStatus(
                    reference_id=str(entry["reference_id"]),
                    status=str(entry["status"]).upper(),
                    amount=None if amount is None else Decimal(str(amount)),
                    currency=entry.get("currency_code"),
                    timestamp=datetime.fromisoformat(str(entry["timestamp"])),
                    reason=entry.get("status_reason_message") or entry.get("status_reason_code"),
                )
            )
        except (KeyError, TypeError, ValueError, InvalidOperation):
            raise InvalidCallback(
                f"disbursements_status[{number}]: reference_id, status and timestamp (RFC 3339) are required"
            ) from None
    return statuses


def on_disburse_statuses(body: object) -> list[DisbursementStatus]:
    """The statuses of an on-disburse callback: `{"header": {"action": "on-disburse"}, "message": {...}}`."""
    if not isinstance(body, dict) or not isinstance(body.get("message"), dict):
        raise InvalidCallback('expected {"header": ..., "message": {"disbursements_status": [...]}}')
    header = body.get("header")
    if isinstance(header, dict) and header.get("action") not in (None, "on-disburse"):
        raise InvalidCallback("header.action must be on-disburse")
    return parse_statuses(body["message"].get("disbursements_status"))


def status_reply_statuses(body: object) -> list[DisbursementStatus]:
    """The statuses in a synchronous disburse/status reply (message.txnstatus_response.txn_status)."""
    try:
        response = body["message"]["txnstatus_response"]  # type: ignore[index]
        return parse_statuses(response["txn_status"]["disbursements_status"])
    except (KeyError, TypeError):
        raise InvalidCallback("expected message.txnstatus_response.txn_status.disbursements_status") from None

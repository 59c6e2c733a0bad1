"""Reading a request's envelope and writing DSRS's answers, callbacks and acknowledgements."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dsrs.dci.errors import (
    ACTION_NOT_SUPPORTED,
    ENCRYPTION_INVALID,
    RECEIVER_ID_INVALID,
    REQUEST_BAD,
    TOTAL_COUNT_INVALID,
    VERSION_NOT_SUPPORTED,
    DciError,
)
from dsrs.dci.messages import DCI_VERSION, Envelope, parsed
from dsrs.dci.signature import Signer, verify
from dsrs.registry.household import UNSAFE_TEXT_MESSAGE, is_plain_text
from dsrs.settings import Settings


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


@dataclass(frozen=True)
class Party:
    """DSRS as a DCI party: who it says it is, how it signs, and which requests it accepts."""

    sender_id: str
    signer: Signer | None
    request_key: str | None

    @classmethod
    def from_settings(cls, settings: Settings) -> Party:
        key = settings.dci_signing_key
        signer = Signer(key, settings.dci_signing_key_id, settings.dci_sender_id) if key else None
        return cls(settings.dci_sender_id, signer, settings.dci_request_key)

    def read(self, body: dict[str, Any], action: str) -> Envelope:
        """The request's envelope, checked: its form, version, action, receiver, encryption and signature."""
        plain_everywhere(body)
        envelope = parsed(Envelope, body, "body")
        header = envelope.header
        if header.version != DCI_VERSION:
            raise DciError(VERSION_NOT_SUPPORTED, f"header.version: {DCI_VERSION} is the version DSRS speaks")
        if header.action != action:
            raise DciError(REQUEST_BAD, f"{ACTION_NOT_SUPPORTED}: this path takes action {action}")
        if header.receiver_id is not None and header.receiver_id != self.sender_id:
            raise DciError(RECEIVER_ID_INVALID, "header.receiver_id is not this registry's id")
        if header.is_msg_encrypted or "ciphertext" in envelope.message:
            raise DciError(ENCRYPTION_INVALID, "encrypted messages are not supported")
        if self.request_key is not None:
            document = body["header"], body["message"]
            verify(self.request_key, envelope.signature, *document, time.time())
        return envelope

    def header(self, action: str, receiver_id: str, counts: tuple[int, int]) -> dict[str, Any]:
        """A callback header (MsgCallbackHeader): `counts` are the requests it answers and those completed."""
        return {
            "version": DCI_VERSION,
            "message_id": str(uuid.uuid4()),
            "message_ts": now_iso(),
            "action": action,
            "status": "succ",
            "total_count": counts[0],
            "completed_count": counts[1],
            "sender_id": self.sender_id,
            "receiver_id": receiver_id,
            "is_msg_encrypted": False,
        }

    def answer(self, action: str, message: dict[str, Any], receiver_id: str, counts: tuple[int, int]) -> dict[str, Any]:
        """A synchronous answer, signed."""
        return self.signed(self.header(action, receiver_id, counts), message)

    def signed(self, header: dict[str, Any], message: dict[str, Any]) -> dict[str, Any]:
        document: dict[str, Any] = {"header": header, "message": message}
        if self.signer is not None:
            document = {"signature": self.signer.sign(header, message, time.time()), **document}
        return document


def plain_everywhere(document: Any) -> None:
    """err.request.bad for a control character or unpaired surrogate in any key or string of the message:
    they corrupt logs, and PostgreSQL refuses NUL in what DSRS stores of it."""
    pending = [document]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            pending.extend(value.keys())
            pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
        elif isinstance(value, str) and not is_plain_text(value):
            raise DciError(REQUEST_BAD, f"a text of the message {UNSAFE_TEXT_MESSAGE}")


def ack(correlation_id: str) -> dict[str, Any]:
    return {"message": {"ack_status": "ACK", "timestamp": now_iso(), "correlation_id": correlation_id}}


def refusal(error: DciError, correlation_id: str | None = None) -> dict[str, Any]:
    """The standard's ERR acknowledgement; nothing of the request was stored."""
    return {
        "message": {
            "ack_status": "ERR",
            "timestamp": now_iso(),
            "correlation_id": correlation_id or str(uuid.uuid4()),
            "error": {"code": error.code, "message": error.message},
        }
    }


def check_count(envelope: Envelope, items: int) -> None:
    if envelope.header.total_count != items:
        raise DciError(REQUEST_BAD, f"{TOTAL_COUNT_INVALID}: header.total_count must be the number of requests")

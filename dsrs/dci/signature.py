"""The envelope's `signature`: over the canonical JSON of {header, message}, in the standard's
`Signature: ... created, expires, headers="(created) (expires) digest", signature=...` form.

The standard names public-key signatures (ed25519); DSRS signs with HMAC-SHA256 under a key shared with
each partner (DSRS_DCI_SIGNING_KEY for what it sends, DSRS_DCI_REQUEST_KEY for what it accepts).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import Any

from dsrs.dci.errors import SIGNATURE_INVALID, SIGNATURE_MISSING, DciError

ALGORITHM = "hmac-sha256"
LIFETIME_SECONDS = 300
# How far a sender's clock may run ahead of ours.
CLOCK_SKEW_SECONDS = 60
_PARAMETER = re.compile(r'([A-Za-z]+)="([^"]*)"')


def canonical(header: Any, message: Any) -> bytes:
    """The signed bytes: {header, message} as JSON with sorted keys and no spaces."""
    document = {"header": header, "message": message}
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def _digest(header: Any, message: Any) -> str:
    hashed = hashlib.blake2b(canonical(header, message), digest_size=64).digest()
    return "BLAKE-512=" + base64.b64encode(hashed).decode()


def _mac(key: str, created: int, expires: int, digest: str) -> str:
    signing = f"(created): {created}\n(expires): {expires}\ndigest: {digest}".encode()
    return base64.b64encode(hmac.new(key.encode(), signing, hashlib.sha256).digest()).decode()


@dataclass(frozen=True)
class Signer:
    key: str
    key_id: str
    sender_id: str

    def sign(self, header: Any, message: Any, now: float) -> str:
        created = int(now)
        expires = created + LIFETIME_SECONDS
        mac = _mac(self.key, created, expires, _digest(header, message))
        return (
            f'Signature: namespace="dci", kidId="{self.sender_id}|{self.key_id}|{ALGORITHM}", '
            f'algorithm="{ALGORITHM}", created="{created}", expires="{expires}", '
            f'headers="(created) (expires) digest", signature="{mac}"'
        )


def verify(key: str, signature: Any, header: Any, message: Any, now: float) -> None:
    """Raise the standard's signature error unless `signature` signs {header, message} under `key`, now."""
    if not signature:
        raise DciError(SIGNATURE_MISSING, "the request must be signed")
    if not isinstance(signature, str):
        raise DciError(SIGNATURE_INVALID, "the signature must be a string")
    parameters = dict(_PARAMETER.findall(signature))
    if parameters.get("algorithm") != ALGORITHM:
        raise DciError(SIGNATURE_INVALID, f"the signature's algorithm must be {ALGORITHM}")
    try:
        created, expires = int(parameters["created"]), int(parameters["expires"])
    except (KeyError, ValueError):
        raise DciError(SIGNATURE_INVALID, "the signature needs created and expires times") from None
    if created > now + CLOCK_SKEW_SECONDS or expires < now:
        raise DciError(SIGNATURE_INVALID, "the signature is not valid at this time")
    expected = _mac(key, created, expires, _digest(header, message))
    if not hmac.compare_digest(expected.encode(), parameters.get("signature", "").encode()):
        raise DciError(SIGNATURE_INVALID, "the signature does not match the header and message")

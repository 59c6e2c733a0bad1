"""The JWKS verifier against a real HTTP server: RS256 and ES256 accepted, confusion refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from dsrs.auth.tokens import InvalidToken, JwksVerifier

ISSUER, AUDIENCE = "https://idp.example", "dsrs-api"
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())


def _jwk(public_jwk: str, kid: str, alg: str) -> dict[str, Any]:
    return {**json.loads(public_jwk), "kid": kid, "alg": alg, "use": "sig"}


JWKS = {
    "keys": [
        _jwk(RSAAlgorithm.to_jwk(RSA_KEY.public_key()), "rsa-1", "RS256"),
        _jwk(ECAlgorithm.to_jwk(EC_KEY.public_key()), "ec-1", "ES256"),
    ]
}


@pytest.fixture(scope="module")
def jwks_url() -> Iterator[str]:
    class Keys(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(JWKS).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Keys)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    server.shutdown()


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "sub": "officer-7",
        "roles": ["program_officer"],
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 300,
        **overrides,
    }


async def test_rs256_and_es256_tokens_verify(jwks_url: str) -> None:
    verifier = JwksVerifier(jwks_url, ISSUER, AUDIENCE)
    rs = jwt.encode(claims(), RSA_KEY, algorithm="RS256", headers={"kid": "rsa-1"})
    es = jwt.encode(claims(), EC_KEY, algorithm="ES256", headers={"kid": "ec-1"})
    assert (await verifier.verify(rs)).subject == "officer-7"
    assert {r.value for r in (await verifier.verify(es)).roles} == {"program_officer"}


async def test_algorithm_confusion_is_refused(jwks_url: str) -> None:
    """An HS256 token 'signed' with the public key as its secret must not pass as the key's owner."""
    verifier = JwksVerifier(jwks_url, ISSUER, AUDIENCE)
    public_pem = RSA_KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # PyJWT itself refuses to HMAC-sign with a PEM key, so the forgery is made by hand.
    forged = _hs256_with(public_pem)
    with pytest.raises(InvalidToken, match="algorithm"):
        await verifier.verify(forged)


def _hs256_with(secret: bytes) -> str:
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = f"{b64(json.dumps({'alg': 'HS256', 'kid': 'rsa-1'}).encode())}.{b64(json.dumps(claims()).encode())}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


async def test_a_key_from_elsewhere_or_a_mismatched_algorithm_is_refused(jwks_url: str) -> None:
    verifier = JwksVerifier(jwks_url, ISSUER, AUDIENCE)
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(InvalidToken, match="signature"):
        await verifier.verify(jwt.encode(claims(), stranger, algorithm="RS256", headers={"kid": "rsa-1"}))
    with pytest.raises(InvalidToken, match="unknown key"):
        await verifier.verify(jwt.encode(claims(), stranger, algorithm="RS256", headers={"kid": "rsa-9"}))
    with pytest.raises(InvalidToken, match="does not match"):
        await verifier.verify(jwt.encode(claims(), RSA_KEY, algorithm="RS256", headers={"kid": "ec-1"}))

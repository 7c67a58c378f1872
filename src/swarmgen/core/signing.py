"""Ed25519 keys and signed worker requests.

A worker signs every request over ``method, path, body digest, timestamp, nonce``; the
coordinator checks the signature, rejects timestamps outside a window, and rejects
nonces it has seen (the nonce store is the caller's; this module only decides).
The coordinator signs epoch roots and assignments with its own key.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from swarmgen.core.canonical import canonical_json, sha256_hex

CLOCK_SKEW_S = 60
"""Largest accepted difference between a signed timestamp and the coordinator's clock."""

HEADER_KEY = "X-Swarmgen-Key"
HEADER_TIMESTAMP = "X-Swarmgen-Timestamp"
HEADER_NONCE = "X-Swarmgen-Nonce"
HEADER_SIGNATURE = "X-Swarmgen-Signature"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def unb64(text: str) -> bytes:
    """Decode unpadded URL-safe base64; ``ValueError`` on malformed input."""
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise ValueError("not base64url") from exc


@dataclass(frozen=True)
class KeyPair:
    """An Ed25519 signing key with its public half as base64url text (the worker id)."""

    signing_key: SigningKey

    @classmethod
    def generate(cls) -> KeyPair:
        return cls(SigningKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> KeyPair:
        return cls(SigningKey(seed))

    @property
    def seed(self) -> bytes:
        return bytes(self.signing_key)

    @property
    def public_key(self) -> str:
        return b64(bytes(self.signing_key.verify_key))

    def sign(self, message: bytes) -> str:
        return b64(self.signing_key.sign(message).signature)


def verify(public_key: str, message: bytes, signature: str) -> bool:
    """True when ``signature`` is ``public_key``'s Ed25519 signature of ``message``."""
    try:
        VerifyKey(unb64(public_key)).verify(message, unb64(signature))
    except (BadSignatureError, ValueError, TypeError):
        return False
    return True


def request_message(method: str, path: str, body: bytes, timestamp: int, nonce: str) -> bytes:
    """The bytes a worker signs for one HTTP request."""
    return canonical_json(
        {
            "method": method.upper(),
            "path": path,
            "body": sha256_hex(body),
            "ts": timestamp,
            "nonce": nonce,
        }
    )


def new_nonce() -> str:
    return secrets.token_hex(16)


def sign_request(
    keys: KeyPair, method: str, path: str, body: bytes, timestamp: int, *, nonce: str | None = None
) -> dict[str, str]:
    """Headers that authenticate one request by ``keys``."""
    nonce = nonce or new_nonce()
    signature = keys.sign(request_message(method, path, body, timestamp, nonce))
    return {
        HEADER_KEY: keys.public_key,
        HEADER_TIMESTAMP: str(timestamp),
        HEADER_NONCE: nonce,
        HEADER_SIGNATURE: signature,
    }


def fresh(timestamp: int, now: float, skew_s: int = CLOCK_SKEW_S) -> bool:
    """True when ``timestamp`` (seconds) is within ``skew_s`` of ``now``."""
    return abs(now - timestamp) <= skew_s

"""Who is calling: requester API keys and signed worker requests."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from swarmgen.clock import Clock
from swarmgen.core import signing
from swarmgen.errors import BadSignature, StaleRequest, Unauthorized
from swarmgen.store.pending import Nonce, pending
from swarmgen.store.port import Store
from swarmgen.store.records import UserRecord

KEY_PREFIX = "sg_"
HORDE_KEY_BYTES = 16
"""A Horde-shaped key: 128 random bits, 22 URL-safe characters, the only length (besides
the anonymous key) that AI Horde's ``horde_sdk`` sends."""


def hash_key(key: str) -> str:
    """API keys are 128- or 256-bit random, so one SHA-256 is enough to store them safely."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class NewKey:
    """A freshly made API key: ``key`` is shown once and never stored."""

    id: str
    key: str
    key_hash: str
    prefix: str


def new_api_key(*, horde: bool = False) -> NewKey:
    """A fresh key: ``sg_`` and 256 random bits, or with ``horde`` a 22-character key of
    128 random bits that AI Horde's clients accept (no ``sg_``: it would cost bits).

    The stored ``prefix`` (what ``keys list`` shows) is 10 characters of a native key
    (7 random) but only 4 of a Horde key, so the listing gives away at most 24 bits."""
    if horde:
        key = secrets.token_urlsafe(HORDE_KEY_BYTES)
        return NewKey(id=uuid.uuid4().hex, key=key, key_hash=hash_key(key), prefix=key[:4])
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    return NewKey(id=uuid.uuid4().hex, key=key, key_hash=hash_key(key), prefix=key[:10])


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def authenticate_requester(store: Store, authorization: str | None) -> UserRecord:
    token = bearer_token(authorization)
    if token is None:
        raise Unauthorized("send an API key as 'Authorization: Bearer <key>'")
    user = store.key_owner(hash_key(token))
    if user is None:
        raise Unauthorized("unknown or revoked API key")
    return user


def requester_or_anonymous(
    store: Store,
    authorization: str | None,
    anonymous_key: str | None,
    anonymous: Callable[[], UserRecord],
) -> UserRecord:
    """The user behind ``Authorization: Bearer <API key>``, or the shared anonymous user
    (``anonymous()``) behind the anonymous key; an empty ``anonymous_key`` refuses it."""
    if anonymous_key and bearer_token(authorization) == anonymous_key:
        return anonymous()
    return authenticate_requester(store, authorization)


def verify_worker(
    clock: Clock,
    *,
    headers: Mapping[str, str],
    method: str,
    path: str,
    body: bytes,
    skew_s: int,
) -> Nonce:
    """Check a worker request's signature and timestamp; returns its nonce, naming the
    worker, which the request's first write transaction records (or, if none does,
    :func:`remember`: :mod:`swarmgen.store.pending`)."""
    key = headers.get(signing.HEADER_KEY.lower())
    ts_text = headers.get(signing.HEADER_TIMESTAMP.lower())
    nonce = headers.get(signing.HEADER_NONCE.lower())
    signature = headers.get(signing.HEADER_SIGNATURE.lower())
    if not (key and ts_text and nonce and signature):
        raise Unauthorized(
            "worker requests must carry X-Swarmgen-Key, -Timestamp, -Nonce and -Signature"
        )
    if len(key) > 64 or len(nonce) > 64 or len(signature) > 128:
        raise BadSignature("malformed signature headers")
    try:
        timestamp = int(ts_text)
    except ValueError:
        raise StaleRequest("X-Swarmgen-Timestamp must be integer seconds") from None
    now_ms = clock.now_ms()
    if not signing.fresh(timestamp, now_ms / 1000, skew_s):
        raise StaleRequest(f"timestamp is more than {skew_s}s away from the coordinator's clock")
    message = signing.request_message(method, path, body, timestamp, nonce)
    if not signing.verify(key, message, signature):
        raise BadSignature("signature does not verify for this key and request")
    return Nonce(key, nonce, now_ms)


def remember(store: Store, nonce: Nonce) -> None:
    """Record ``nonce`` in a transaction of its own, unless one has;
    :class:`ReplayedNonce` if it was used before."""
    with pending(nonce), store.transaction():
        pass

"""Horde request ids: each job's id under a keyed permutation, so the id is a handle of its own.

AI Horde's clients follow a request by its id alone (``/generate/check/{id}`` carries no
API key), so whoever holds a Horde id may read that request and cancel it. swarmgen's job
ids are not secret (the published ledger names them), so a Horde id must not be one, and
nobody without the coordinator's key may turn a job id into its Horde id.

A job id is a random UUID (122 random bits). :class:`HordeIds` runs those bits through an
8-round Feistel network keyed with a secret derived from the coordinator's key (every
replica that shares the key agrees) and writes the result as a UUID version 4 again,
which is what ``horde_sdk`` insists on. No table maps one to the other: the permutation
is its own inverse map.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from dataclasses import dataclass

from swarmgen.core.signing import KeyPair

HALF = 61
"""Bits in each half: a version-4 UUID holds 122 random bits."""
ROUNDS = 8
_MASK = (1 << HALF) - 1
HEX32 = re.compile(r"^[0-9a-f]{32}$")


def _bits(value: uuid.UUID) -> int | None:
    """The 122 random bits of a version-4 (RFC 4122 variant) UUID; None for any other."""
    if value.version != 4 or value.variant != uuid.RFC_4122:
        return None
    n = value.int
    return ((n >> 80) << 74) | (((n >> 64) & 0xFFF) << 62) | (n & ((1 << 62) - 1))


def _uuid(bits: int) -> uuid.UUID:
    high, mid, low = bits >> 74, (bits >> 62) & 0xFFF, bits & ((1 << 62) - 1)
    return uuid.UUID(int=(high << 80) | (0x4 << 76) | (mid << 64) | (0b10 << 62) | low)


def parse(text: str) -> uuid.UUID | None:
    """``text`` as a version-4 UUID (dashed or 32 hex digits, any case); None otherwise."""
    if len(text) > 36:
        return None
    try:
        value = uuid.UUID(text)
    except ValueError:
        return None
    return value if _bits(value) is not None else None


@dataclass(frozen=True)
class HordeIds:
    secret: bytes

    @classmethod
    def from_key(cls, keys: KeyPair) -> HordeIds:
        return cls(hashlib.sha256(b"swarmgen horde ids\0" + keys.seed).digest())

    def _round(self, index: int, half: int) -> int:
        message = bytes([index]) + half.to_bytes(8, "big")
        mac = hmac.new(self.secret, message, hashlib.sha256).digest()
        return int.from_bytes(mac[:8], "big") & _MASK

    def public(self, job_id: str) -> str:
        """The Horde id of job ``job_id`` (a version-4 UUID in 32 hex digits)."""
        bits = _bits(uuid.UUID(hex=job_id))
        if bits is None:
            raise ValueError(f"job id {job_id} is not a version-4 UUID")
        left, right = bits >> HALF, bits & _MASK
        for index in range(ROUNDS):
            left, right = right, left ^ self._round(index, right)
        return str(_uuid((left << HALF) | right))

    def job_id(self, horde_id: str) -> str | None:
        """The job behind Horde id ``horde_id``; None when it is not a version-4 UUID."""
        value = parse(horde_id)
        if value is None:
            return None
        bits = _bits(value)
        assert bits is not None
        left, right = bits >> HALF, bits & _MASK
        for index in reversed(range(ROUNDS)):
            left, right = right ^ self._round(index, left), left
        return _uuid((left << HALF) | right).hex

"""Worker receipts: a worker's signed statement of what it ran and what came out.

The worker signs ``(job_id, worker_id, input_digest, output_digest, artifact_digest,
timings, nonce)`` with its Ed25519 key; the coordinator checks the signature and the
nonce, and embeds the receipt in the ledger entry that releases the job's escrow, so
anyone auditing the ledger can check who claimed which work.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from swarmgen.core.canonical import canonical_json
from swarmgen.core.signing import KeyPair, b64, new_nonce, unb64, verify
from swarmgen.errors import SwarmgenError

RECEIPT_DOMAIN = "swarmgen.receipt.v1"
"""Tag signed with every receipt so its signature cannot be replayed as another message."""

_FIELDS = (
    "job_id",
    "worker_id",
    "input_digest",
    "output_digest",
    "artifact_digest",
    "timings",
    "nonce",
    "signature",
)


class MalformedReceipt(SwarmgenError):
    """A receipt is missing fields or has fields of the wrong type."""

    code = "malformed_receipt"
    status = 422


def canonical_b64(text: str) -> bool:
    """True when ``text`` is the one unpadded base64url spelling of the bytes it decodes to.

    Base64 leaves spare bits in its last character; accepting only the canonical
    spelling means that no byte of a key or signature can change unnoticed.
    """
    try:
        return b64(unb64(text)) == text
    except ValueError:
        return False


def verify_strict(public_key: str, message: bytes, signature: str) -> bool:
    """:func:`swarmgen.core.signing.verify`, refusing non-canonical key or signature text."""
    return (
        canonical_b64(public_key)
        and canonical_b64(signature)
        and verify(public_key, message, signature)
    )


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedReceipt(f"receipt.{key} must be a non-empty string")
    return value


def _timings(value: Any) -> dict[str, int]:
    if not isinstance(value, Mapping):
        raise MalformedReceipt("receipt.timings must be an object of integers")
    out: dict[str, int] = {}
    for key, ms in value.items():
        if not isinstance(key, str) or type(ms) is not int or ms < 0:
            raise MalformedReceipt("receipt.timings must map names to non-negative integer ms")
        out[key] = ms
    return out


@dataclass(frozen=True)
class Receipt:
    """A signed claim by ``worker_id`` (its base64url public key) to have run ``job_id``.

    ``timings`` are integer milliseconds by phase (e.g. ``load_ms``, ``run_ms``).
    """

    job_id: str
    worker_id: str
    input_digest: str
    output_digest: str
    artifact_digest: str
    timings: Mapping[str, int] = field(default_factory=dict)
    nonce: str = ""
    signature: str = ""

    def body(self) -> dict[str, Any]:
        """Every signed field, without the signature."""
        return {
            "job_id": self.job_id,
            "worker_id": self.worker_id,
            "input_digest": self.input_digest,
            "output_digest": self.output_digest,
            "artifact_digest": self.artifact_digest,
            "timings": dict(self.timings),
            "nonce": self.nonce,
        }

    def message(self) -> bytes:
        """The exact bytes the worker signs."""
        return canonical_json({"domain": RECEIPT_DOMAIN, **self.body()})

    def verify(self) -> bool:
        """True when the signature is ``worker_id``'s over :meth:`message`.

        Checked once per receipt object (it is frozen: what was checked cannot change),
        so the coordinator's check of a result and the ledger's check of the receipt it
        embeds cost one signature verification; a receipt parsed again is checked again."""
        return self._verified

    @cached_property
    def _verified(self) -> bool:
        return verify_strict(self.worker_id, self.message(), self.signature)

    def to_dict(self) -> dict[str, Any]:
        return {**self.body(), "signature": self.signature}

    @classmethod
    def from_dict(cls, data: Any) -> Receipt:
        """Parse a receipt strictly; :class:`MalformedReceipt` on any unexpected shape."""
        if not isinstance(data, Mapping) or set(data) != set(_FIELDS):
            raise MalformedReceipt(f"receipt must have exactly the fields {', '.join(_FIELDS)}")
        return cls(
            job_id=_text(data, "job_id"),
            worker_id=_text(data, "worker_id"),
            input_digest=_text(data, "input_digest"),
            output_digest=_text(data, "output_digest"),
            artifact_digest=_text(data, "artifact_digest"),
            timings=_timings(data["timings"]),
            nonce=_text(data, "nonce"),
            signature=_text(data, "signature"),
        )

    @classmethod
    def signed(
        cls,
        keys: KeyPair,
        *,
        job_id: str,
        input_digest: str,
        output_digest: str,
        artifact_digest: str,
        timings: Mapping[str, int],
        nonce: str | None = None,
    ) -> Receipt:
        """A receipt for ``job_id`` signed by ``keys`` (the worker)."""
        unsigned = cls(
            job_id=job_id,
            worker_id=keys.public_key,
            input_digest=input_digest,
            output_digest=output_digest,
            artifact_digest=artifact_digest,
            timings=_timings(timings),
            nonce=nonce or new_nonce(),
        )
        return cls(**{**unsigned.body(), "signature": keys.sign(unsigned.message())})

    def run_ms(self) -> int:
        """Total time the worker reports spending, in milliseconds."""
        return sum(self.timings.values())

"""Epoch seals: the coordinator's signature over an epoch's Merkle root and totals.

A seal names the epoch's entries (``first_seq`` and ``count``), their Merkle root, the
hash of the chain's head when the epoch closed, and the money supply at that point. It
is what an inclusion proof is checked against, and what makes a sealed entry
impossible to rewrite without the coordinator's key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from swarmgen.core.canonical import canonical_json
from swarmgen.core.ledger import Entry, Ledger, Totals
from swarmgen.core.merkle import merkle_root
from swarmgen.core.receipts import verify_strict
from swarmgen.core.signing import KeyPair

SEAL_DOMAIN = "swarmgen.seal.v1"
"""Tag signed with every seal so its signature cannot be replayed as another message."""

_INTS = ("epoch", "first_seq", "count", "minted", "burned", "supply")
_TEXTS = ("root", "head_hash", "coordinator", "signature")


@dataclass(frozen=True)
class EpochSeal:
    """A signed Merkle root over the entries of one epoch."""

    epoch: int
    first_seq: int
    count: int
    root: str
    head_hash: str
    """Hash of the last entry recorded when the epoch closed."""
    minted: int
    burned: int
    supply: int
    coordinator: str
    """The coordinator's public key (base64url)."""
    signature: str = ""

    def body(self) -> dict[str, Any]:
        """Every signed field, without the signature."""
        return {
            "epoch": self.epoch,
            "first_seq": self.first_seq,
            "count": self.count,
            "root": self.root,
            "head_hash": self.head_hash,
            "minted": self.minted,
            "burned": self.burned,
            "supply": self.supply,
            "coordinator": self.coordinator,
        }

    def message(self) -> bytes:
        return canonical_json({"domain": SEAL_DOMAIN, **self.body()})

    def verify(self, coordinator_public_key: str) -> bool:
        """True when signed by ``coordinator_public_key`` (and it is the key the seal names)."""
        return self.coordinator == coordinator_public_key and verify_strict(
            coordinator_public_key, self.message(), self.signature
        )

    @property
    def totals(self) -> Totals:
        return Totals(minted=self.minted, burned=self.burned, supply=self.supply)

    def to_dict(self) -> dict[str, Any]:
        return {**self.body(), "signature": self.signature}

    @classmethod
    def from_dict(cls, data: Any) -> EpochSeal:
        """Parse strictly; ``ValueError`` on any unexpected shape."""
        if not isinstance(data, dict) or set(data) != set(_INTS + _TEXTS):
            raise ValueError(f"a seal has exactly the fields {', '.join(_INTS + _TEXTS)}")
        for key in _INTS:
            if type(data[key]) is not int:
                raise ValueError(f"seal.{key} must be an integer")
        for key in _TEXTS:
            if not isinstance(data[key], str):
                raise ValueError(f"seal.{key} must be a string")
        return cls(**data)


def seal_epoch(
    epoch: int,
    entries: Sequence[Entry],
    *,
    head_hash: str,
    next_seq: int,
    totals: Totals,
    keys: KeyPair,
) -> EpochSeal:
    """Seal ``epoch`` whose entries are ``entries`` (possibly none).

    ``head_hash`` and ``next_seq`` are the chain's head and length after the epoch's
    last entry; ``totals`` the supply at that point.
    """
    if any(entry.epoch != epoch for entry in entries):
        raise ValueError(f"every sealed entry must belong to epoch {epoch}")
    unsigned = EpochSeal(
        epoch=epoch,
        first_seq=next_seq - len(entries),
        count=len(entries),
        root=merkle_root([entry.hash for entry in entries]),
        head_hash=head_hash,
        minted=totals.minted,
        burned=totals.burned,
        supply=totals.supply,
        coordinator=keys.public_key,
    )
    return EpochSeal(**unsigned.body(), signature=keys.sign(unsigned.message()))


def seal_ledger(ledger: Ledger, epoch: int, keys: KeyPair) -> EpochSeal:
    """Close ``epoch`` of an in-memory ledger and seal it."""
    entries = ledger.close_epoch(epoch)
    return seal_epoch(
        epoch,
        entries,
        head_hash=ledger.head,
        next_seq=len(ledger.entries),
        totals=ledger.totals(),
        keys=keys,
    )

"""What the rest of swarmgen needs from a chain, and how its values map to the contract's.

The contract speaks ``bytes32``; swarmgen speaks base64url Ed25519 keys and hex SHA-256
digests. The conversions live here, once: a worker's and a coordinator's key are their
32 raw public-key bytes, a seal's root and head hash their 32 digest bytes, a job its
SHA-256 over the id.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol

from swarmgen.core.seal import EpochSeal
from swarmgen.core.signing import unb64
from swarmgen.errors import SwarmgenError


class ChainError(SwarmgenError):
    """The chain refused or could not take a transaction (the reason is in the message)."""

    code = "chain_error"


class SealConflict(ChainError):
    """The chain already holds a different seal for this coordinator and epoch."""

    code = "seal_conflict"


def key32(public_key: str) -> bytes:
    """A base64url Ed25519 public key as the contract's ``bytes32``."""
    raw = unb64(public_key)
    if len(raw) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes")
    return raw


def digest32(hex_digest: str) -> bytes:
    """A hex SHA-256 digest as ``bytes32``."""
    raw = bytes.fromhex(hex_digest)
    if len(raw) != 32:
        raise ValueError("a digest is 32 bytes")
    return raw


def job_key(job_id: str) -> bytes:
    """A job id as ``bytes32``: SHA-256 over its UTF-8 bytes."""
    return hashlib.sha256(job_id.encode()).digest()


@dataclass(frozen=True)
class ChainSeal:
    """One epoch seal as the chain holds it."""

    epoch: int
    root: bytes
    head_hash: bytes
    count: int

    @classmethod
    def of(cls, seal: EpochSeal) -> ChainSeal:
        return cls(seal.epoch, digest32(seal.root), digest32(seal.head_hash), seal.count)

    def differences(self, seal: EpochSeal) -> list[str]:
        """Fields where ``seal`` (from a ledger) and this on-chain seal disagree."""
        mine = ChainSeal.of(seal)
        return [f for f in ("root", "head_hash", "count") if getattr(mine, f) != getattr(self, f)]


@dataclass(frozen=True)
class StakeInfo:
    """A worker's stake on the chain (amounts in the chain's smallest coin unit)."""

    owner: str | None
    """The EVM address bound to the worker's key by its first deposit."""
    locked: int
    unbonding: int
    unlock_at: int
    """Chain time (seconds) from which the unbonding amount may be withdrawn."""
    pending_slashes: int

    @property
    def slashable(self) -> int:
        return self.locked + self.unbonding


@dataclass(frozen=True)
class SlashRecord:
    """A slash as the chain holds it: what every coordinator sharing the contract sees."""

    id: int
    coordinator: str
    """The address of the coordinator that proposed it."""
    worker: bytes
    amount: int
    epoch: int
    """The proposing coordinator's epoch it judged."""
    state: str
    """``pending``, ``executed`` or ``cancelled`` (by a dispute)."""

    @property
    def counts(self) -> bool:
        """Whether it stands against the worker: pending or executed, not refuted."""
        return self.state in ("pending", "executed")


@dataclass(frozen=True)
class SlashClaim:
    """What a coordinator asserts when it proposes a slash (see decision 0018)."""

    worker: bytes
    amount: int
    epoch: int
    evidence: bytes
    """SHA-256 of the verdict's evidence."""
    receipt_digest: bytes
    """keccak256 of the judged receipt's chain encoding (:func:`swarmgen.chain.receipts`)."""
    job: bytes
    claimed_output: bytes
    consensus_output: bytes


class Chain(Protocol):
    """One account's view of the swarmgen contract."""

    @property
    def address(self) -> str:
        """The EVM address this view sends from."""
        ...

    def register_coordinator(self, ledger_key: bytes, bond: int) -> str: ...
    def is_coordinator(self, address: str) -> bool: ...
    def coordinator_of(self, ledger_key: bytes) -> str | None:
        """The address that registered ``ledger_key``, if any."""
        ...

    def post_seal(self, seal: ChainSeal) -> str:
        """Post the sender's seal; returns the transaction hash."""
        ...

    def seal_of(self, coordinator: str, epoch: int) -> ChainSeal | None: ...
    def deposit(self, worker: bytes, amount: int) -> str: ...
    def request_unlock(self, worker: bytes, amount: int) -> str: ...
    def withdraw(self, worker: bytes) -> str: ...
    def stake_of(self, worker: bytes, block: int | None = None) -> StakeInfo:
        """The worker's stake now, or as of ``block``."""
        ...

    def slashes_against(self, worker: bytes, block: int | None = None) -> list[SlashRecord]:
        """Every slash any coordinator proposed against ``worker`` (up to ``block``),
        oldest first, each in its state now (or as of ``block``)."""
        ...

    def block_at(self, timestamp_s: int) -> int | None:
        """The last block mined at or before ``timestamp_s`` (chain time, seconds), or
        ``None`` when the chain's first block is younger."""
        ...

    def propose_slash(self, claim: SlashClaim) -> int:
        """Propose a slash; returns its id."""
        ...

    def slash_id_of(self, coordinator: str, evidence: bytes) -> int | None:
        """The slash ``coordinator`` proposed with ``evidence``, if any."""
        ...

    def execute_slash(self, slash_id: int) -> str: ...
    def dispute(self, slash_id: int, receipt: bytes) -> str: ...
    def slash_state(self, slash_id: int) -> str:
        """``pending``, ``executed`` or ``cancelled`` (``none`` when there is no such slash)."""
        ...

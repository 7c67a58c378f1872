"""Inclusion proofs: show that a job's entries are in the ledger, checkable offline.

A proof carries the entry itself, its Merkle path and the signed seal of its epoch.
Verifying it needs nothing but the coordinator's public key: the entry's hash is
recomputed from its content (and its receipt's signature checked), the path must lead
to the seal's root at the entry's position, and the seal must be signed by that key.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from swarmgen.core.ledger import Entry, LedgerError, make_entry
from swarmgen.core.merkle import MerkleProof, prove, verify_inclusion
from swarmgen.core.seal import EpochSeal
from swarmgen.errors import NotFound


@dataclass(frozen=True)
class EntryProof:
    """One entry with its Merkle path to the root of its epoch's seal."""

    entry: Entry
    path: MerkleProof
    seal: EpochSeal

    def to_dict(self) -> dict[str, Any]:
        return {
            "entry": self.entry.to_dict(),
            "path": self.path.to_dict(),
            "seal": self.seal.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Any) -> EntryProof:
        """Parse strictly; ``ValueError`` on any unexpected shape."""
        if not isinstance(data, dict) or set(data) != {"entry", "path", "seal"}:
            raise ValueError("an entry proof has exactly entry, path and seal")
        try:
            entry = Entry.from_dict(data["entry"])
        except LedgerError as exc:
            raise ValueError(exc.message) from None
        return cls(entry, MerkleProof.from_dict(data["path"]), EpochSeal.from_dict(data["seal"]))


def verify_proof(proof: EntryProof, signed_root: EpochSeal, coordinator_public_key: str) -> bool:
    """True when ``proof.entry`` is sealed under ``signed_root``, signed by the coordinator."""
    entry, path = proof.entry, proof.path
    if proof.seal != signed_root or not signed_root.verify(coordinator_public_key):
        return False
    if entry.epoch != signed_root.epoch or path.size != signed_root.count:
        return False
    if path.index != entry.seq - signed_root.first_seq:
        return False
    try:
        recomputed = make_entry(entry.seq, entry.epoch, entry.posting, entry.prev_hash).hash
    except LedgerError:
        return False
    receipt = entry.posting.receipt
    if recomputed != entry.hash or (receipt is not None and not receipt.verify()):
        return False
    return verify_inclusion(entry.hash, path, signed_root.root)


@dataclass(frozen=True)
class JobProof:
    """Every sealed entry of one job, each with its proof."""

    job_id: str
    proofs: tuple[EntryProof, ...]

    def verify(self, coordinator_public_key: str) -> bool:
        """True when every entry is the job's and proves against its own signed seal."""
        return bool(self.proofs) and all(
            p.entry.job_id == self.job_id and verify_proof(p, p.seal, coordinator_public_key)
            for p in self.proofs
        )

    def to_dict(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "proofs": [p.to_dict() for p in self.proofs]}

    @classmethod
    def from_dict(cls, data: Any) -> JobProof:
        if not isinstance(data, dict) or set(data) != {"job_id", "proofs"}:
            raise ValueError("a job proof has exactly job_id and proofs")
        if not isinstance(data["job_id"], str) or not isinstance(data["proofs"], list):
            raise ValueError("job_id is a string and proofs a list")
        return cls(data["job_id"], tuple(EntryProof.from_dict(p) for p in data["proofs"]))


def prove_entry(epoch_entries: Sequence[Entry], seal: EpochSeal, seq: int) -> EntryProof:
    """The proof of entry ``seq`` among ``epoch_entries`` (all entries of the seal's epoch)."""
    index = seq - seal.first_seq
    if not 0 <= index < len(epoch_entries) or epoch_entries[index].seq != seq:
        raise NotFound(f"entry {seq} is not in epoch {seal.epoch}'s sealed entries")
    path = prove([e.hash for e in epoch_entries], index)
    return EntryProof(epoch_entries[index], path, seal)


def prove_job(entries: Iterable[Entry], seals: Iterable[EpochSeal], job_id: str) -> JobProof:
    """Proofs for every sealed entry of ``job_id``; :class:`NotFound` when there is none."""
    by_epoch: dict[int, list[Entry]] = {}
    for entry in entries:
        by_epoch.setdefault(entry.epoch, []).append(entry)
    proofs: list[EntryProof] = []
    for seal in sorted(seals, key=lambda s: s.epoch):
        sealed = by_epoch.get(seal.epoch, [])
        for entry in sealed:
            if entry.job_id == job_id:
                proofs.append(prove_entry(sealed, seal, entry.seq))
    if not proofs:
        raise NotFound(f"no sealed entry for job {job_id}", job_id=job_id)
    return JobProof(job_id, tuple(proofs))

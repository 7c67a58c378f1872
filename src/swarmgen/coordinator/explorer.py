"""The published ledger as a person browses it: epochs with their signed roots, one
epoch's entries, and a job's inclusion proofs checked against the coordinator's key.

It shows no more than ``/api/v1/ledger/export`` does: epochs up to the last published
one (:class:`~swarmgen.coordinator.auditing.Publication`), never the open epoch's
entries, so a page cannot tell a worker which of its jobs were drawn for a check.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from swarmgen.coordinator import auditing
from swarmgen.core.ledger import Entry
from swarmgen.core.proofs import JobProof
from swarmgen.core.seal import EpochSeal
from swarmgen.errors import NotFound
from swarmgen.store.port import Store

MAX_ENTRIES = 500
"""Most entries one epoch page lists (the export has them all)."""


@dataclass(frozen=True)
class SealView:
    seal: EpochSeal
    signed: bool
    """Whether the seal's signature verifies against the coordinator's key."""


@dataclass(frozen=True)
class EpochsView:
    seals: tuple[SealView, ...]
    """Published epochs, newest first."""
    published: int
    open_epoch: int | None
    coordinator: str


@dataclass(frozen=True)
class EpochView:
    seal: SealView
    kinds: tuple[tuple[str, int, int], ...]
    """``(entry kind, entries, total amount)``, by kind."""
    entries: tuple[Entry, ...]
    """The first :data:`MAX_ENTRIES` entries in chain order."""


@dataclass(frozen=True)
class ProofView:
    proof: JobProof
    verified: bool
    """Whether every entry proves against its seal and the seals against the key."""
    coordinator: str


@dataclass
class Explorer:
    store: Store
    publication: auditing.Publication
    coordinator: str
    """The coordinator's public key, which signs every seal."""

    def _view(self, seal: EpochSeal) -> SealView:
        return SealView(seal, seal.verify(self.coordinator))

    def epochs(self) -> EpochsView:
        published = self.publication.published()
        with self.store.transaction() as tx:
            seals = [s for s in tx.ledger.seals() if s.epoch <= published]
            opened = tx.ledger.open_epoch()
        ordered = sorted(seals, key=lambda s: s.epoch, reverse=True)
        return EpochsView(
            tuple(self._view(s) for s in ordered),
            published,
            opened.epoch if opened else None,
            self.coordinator,
        )

    def epoch(self, epoch: int) -> EpochView:
        """One published epoch; :class:`NotFound` alike for unknown, open and held ones."""
        published = self.publication.published()
        with self.store.transaction() as tx:
            seal = next((s for s in tx.ledger.seals() if s.epoch == epoch), None)
            found = tx.ledger.epoch_entries(epoch) if seal and epoch <= published else []
        if seal is None or epoch > published:
            raise NotFound(f"epoch {epoch} is not published", epoch=epoch)
        counts: Counter[str] = Counter()
        amounts: Counter[str] = Counter()
        for entry in found:
            counts[entry.posting.kind.value] += 1
            amounts[entry.posting.kind.value] += entry.posting.amount
        kinds = tuple((k, counts[k], amounts[k]) for k in sorted(counts))
        return EpochView(self._view(seal), kinds, tuple(found[:MAX_ENTRIES]))

    def proof(self, job_id: str) -> ProofView:
        """A job's inclusion proofs in the published epochs, and whether they verify."""
        proof = auditing.prove(self.store, job_id, self.publication.published())
        return ProofView(proof, proof.verify(self.coordinator), self.coordinator)

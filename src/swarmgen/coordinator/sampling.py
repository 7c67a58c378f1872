"""The per-epoch sampling seed: drawn in secret, committed in the ledger, revealed at close.

When an epoch opens (at the close of the one before, or at the first draw of epoch 0)
the coordinator draws 32 random bytes, keeps them in ``sampling_seeds`` and posts a
``sampling_commit`` record with their SHA-256. Each completed job is then drawn for a
check with :func:`swarmgen.core.verification.sampling.must_check` under that seed at
the worker's rate, and the rate is stored on the job row. When the epoch closes the
seed is revealed in a ``sampling_reveal`` record, under the epoch's seal.

:func:`audit_epoch` is what anyone with the ledger and the job rows can run: it checks
the revealed seed against its commitment, recomputes every draw, and reports drawn
jobs that were never checked.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

from swarmgen.core import accounts
from swarmgen.core.ledger import EntryKind, Posting
from swarmgen.core.verification.sampling import SEED_BYTES, AuditReport, audit_sampling, commitment
from swarmgen.errors import NotFound
from swarmgen.store.port import Ledger, Store, Transaction

log = logging.getLogger(__name__)

EPOCH = "epoch"
"""Memo key: the epoch a sampling record is about."""


def ensure_seed(tx: Transaction) -> bytes:
    """The open epoch's seed; drawn and committed to the ledger on first use."""
    epoch = tx.postings.epoch.epoch
    seed = tx.validations.seed_of(epoch)
    if seed is not None:
        return seed
    seed = secrets.token_bytes(SEED_BYTES)
    committed = commitment(seed)
    tx.validations.insert_seed(epoch, seed, committed, tx.now_ms)
    pool = accounts.VALIDATOR_POOL
    memo: dict[str, str | int] = {EPOCH: epoch, "commitment": committed}
    tx.postings.post([Posting(EntryKind.SAMPLING_COMMIT, pool, pool, 0, memo=memo)])
    log.info("epoch %d: sampling seed committed as %s", epoch, committed)
    return seed


def reveal_seed(tx: Transaction) -> None:
    """Publish the closing epoch's seed (if it drew one) before the epoch is sealed."""
    epoch = tx.postings.epoch.epoch
    seed = tx.validations.seed_of(epoch)
    if seed is None:
        return
    pool = accounts.VALIDATOR_POOL
    memo: dict[str, str | int] = {EPOCH: epoch, "seed": seed.hex()}
    tx.postings.post([Posting(EntryKind.SAMPLING_REVEAL, pool, pool, 0, memo=memo)])


def _published(ledger: Ledger, kind: EntryKind, epoch: int, key: str) -> str | None:
    for entry in ledger.kind_entries(kind):
        memo = entry.posting.memo
        if memo.get(EPOCH) == epoch and isinstance(memo.get(key), str):
            return str(memo[key])
    return None


@dataclass(frozen=True)
class SamplingAudit:
    """An epoch's draw recomputed from the ledger's records and the job rows."""

    epoch: int
    commitment: str
    seed: str
    report: AuditReport

    @property
    def ok(self) -> bool:
        return self.report.ok

    def summary(self) -> dict[str, object]:
        report = self.report
        return {
            "epoch": self.epoch,
            "ok": self.ok,
            "commitment": self.commitment,
            "seed": self.seed,
            "commitment_matches": report.commitment_matches,
            "required": len(report.required),
            "missing": list(report.missing),
            "unexpected": list(report.unexpected),
        }


def audit_epoch(store: Store, epoch: int) -> SamplingAudit:
    """Recompute ``epoch``'s draw; :class:`NotFound` until its seed is committed and revealed."""
    with store.transaction() as tx:
        committed = _published(tx.ledger, EntryKind.SAMPLING_COMMIT, epoch, "commitment")
        revealed = _published(tx.ledger, EntryKind.SAMPLING_REVEAL, epoch, "seed")
        if committed is None or revealed is None:
            state = "committed" if committed is None else "revealed"
            raise NotFound(f"epoch {epoch} has no sampling seed {state} yet", epoch=epoch)
        jobs = tx.jobs.drawn(epoch)
        checked = tx.validations.checked([job_id for job_id, _ in jobs])
    try:
        seed = bytes.fromhex(revealed)
    except ValueError:
        seed = b""
    report = audit_sampling(seed, committed, jobs, checked)
    return SamplingAudit(epoch, committed, revealed, report)

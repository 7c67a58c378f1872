"""Epoch verdicts: what verification concludes about each worker when an epoch closes.

Run inside the close's ledger transaction, before settlement:

1. panels still pending are settled on the votes they have when their claim was made
   this epoch (:func:`~swarmgen.core.verification.escalation.settle_stalled`), and
   abandoned when they have already waited a whole epoch;
2. each worker's checks this epoch are its settled claims plus the ballots it cast on
   settled panels; its failures are its rejected claims plus its ballots on the losing
   side (or absent). :func:`~swarmgen.core.verification.verdicts.epoch_verdict` judges
   them against the honest false-positive rate of its offerings. Seats a worker let
   expire are not ballots and never count here (they cost reliability, not honesty:
   :mod:`swarmgen.core.verification.reliability`);
3. each verdict is stored and posted as a ``verdict`` record with its evidence, so the
   close that follows forfeits and slashes the invalid;
4. reputations move (:func:`~swarmgen.core.verification.sampling.reputation_after`);
5. the sampling seed is revealed.

It returns the counted checks per validator, which settlement pays from the pool.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from swarmgen.coordinator.sampling import reveal_seed
from swarmgen.coordinator.verification import ballots_of, thresholds_of
from swarmgen.core import accounts
from swarmgen.core.ledger import Entry, EntryKind, Posting
from swarmgen.core.verification import (
    DEFAULT_HONEST_FP,
    EscalationPolicy,
    SamplingPolicy,
    Status,
    Verdict,
    Vote,
    epoch_verdict,
    reputation_after,
    settle_stalled,
)
from swarmgen.registry import Registry
from swarmgen.store.port import Transaction
from swarmgen.store.records import CheckRow, CheckStatus

log = logging.getLogger(__name__)

MEMO_IDS = 20
"""Most job ids listed in a verdict's ledger memo (the verdicts table keeps them all)."""
_COUNTED = (Vote.AGREE.value, Vote.DISAGREE.value)


@dataclass
class Tally:
    """One worker's verification record for an epoch."""

    checks: int = 0
    failures: int = 0
    honest_fp: float = 0.0
    rejected: list[str] = field(default_factory=list)
    """Its claims the panels rejected."""
    lost: list[str] = field(default_factory=list)
    """Claims on whose panel it voted on the losing side or was absent."""
    validated: int = 0
    """Ballots it cast that counted and were on the winning side (paid from the pool)."""


def honest_fp(registry: Registry, offering: str) -> float:
    """The offering's calibrated false-positive bound, or :data:`DEFAULT_HONEST_FP`."""
    bound = thresholds_of(registry, offering).false_positive_bound
    return bound if bound is not None and 0.0 < bound < 1.0 else DEFAULT_HONEST_FP


def _settle_stalled(tx: Transaction, escalation: EscalationPolicy) -> None:
    epoch = tx.book.epoch.epoch
    for check in tx.validations.pending_checks():
        ballots = ballots_of(tx.validations.ballots(check.job_id))
        decision = settle_stalled(ballots, escalation)
        if decision.status is Status.PENDING:
            if check.epoch < epoch:
                tx.validations.settle(
                    check.job_id,
                    CheckStatus.ABANDONED,
                    epoch=epoch,
                    reason="no panel",
                    now=tx.now_ms,
                )
            continue
        status = CheckStatus.UPHELD if decision.status is Status.UPHELD else CheckStatus.REJECTED
        tx.validations.settle(
            check.job_id,
            status,
            epoch=epoch,
            reason=f"settled at close on {len(ballots)} ballots",
            now=tx.now_ms,
            penalised=decision.penalised,
        )


def tally(tx: Transaction, registry: Registry) -> dict[str, Tally]:
    """Every worker's checks and failures over the panels settled in the open epoch."""
    decided = tx.validations.decided_in(tx.book.epoch.epoch)
    by_job: dict[str, CheckRow] = {check.job_id: check for check in decided}
    tallies: dict[str, Tally] = {}

    def of(worker_id: str, offering: str) -> Tally:
        found = tallies.setdefault(worker_id, Tally())
        found.honest_fp = max(found.honest_fp, honest_fp(registry, offering))
        return found

    for check in decided:
        mine = of(check.worker_id, check.offering)
        mine.checks += 1
        if check.status is CheckStatus.REJECTED:
            mine.failures += 1
            mine.rejected.append(check.job_id)
    for ballot in tx.validations.ballots_of_checks(sorted(by_job)):
        theirs = of(ballot.validator_id, by_job[ballot.job_id].offering)
        theirs.checks += 1
        if ballot.penalised:
            theirs.failures += 1
            theirs.lost.append(ballot.job_id)
        elif ballot.vote in _COUNTED:
            theirs.validated += 1
    return tallies


def _evidence(tallied: Tally, verdict: Verdict) -> dict[str, Any]:
    return {
        **verdict.as_evidence(),
        "rejected_jobs": list(tallied.rejected),
        "lost_ballots": list(tallied.lost),
    }


def _memo(epoch: int, tallied: Tally, verdict: Verdict) -> dict[str, str | int]:
    """The verdict as a ledger memo: integers and strings only (floats are never hashed)."""
    return {
        "epoch": epoch,
        "checks": verdict.checks,
        "failures": verdict.failures,
        "invalid": int(verdict.invalid),
        "p_value": f"{verdict.p_value:.6g}",
        "honest_fp": f"{verdict.honest_fp:.6g}",
        "alpha": f"{verdict.alpha:.6g}",
        "rejected_jobs": ",".join(tallied.rejected[:MEMO_IDS]),
        "lost_ballots": ",".join(tallied.lost[:MEMO_IDS]),
    }


def _workers_with_work(entries: Sequence[Entry]) -> set[str]:
    return {
        e.posting.receipt.worker_id
        for e in entries
        if e.kind is EntryKind.RELEASE and e.posting.receipt is not None
    }


@dataclass
class EpochJudge:
    """Verification's part of an epoch close (see the module docstring)."""

    registry: Registry
    sampling: SamplingPolicy = field(default_factory=SamplingPolicy)
    escalation: EscalationPolicy = field(default_factory=EscalationPolicy)

    def judge(self, tx: Transaction, entries: Sequence[Entry]) -> Mapping[str, int]:
        """Record the epoch's verdicts; returns each validator's paid checks."""
        epoch = tx.book.epoch.epoch
        _settle_stalled(tx, self.escalation)
        tallies = tally(tx, self.registry)
        invalid: set[str] = set()
        postings = []
        for worker_id, tallied in sorted(tallies.items()):
            verdict = epoch_verdict(tallied.checks, tallied.failures, tallied.honest_fp)
            if verdict.invalid:
                invalid.add(worker_id)
                log.warning("epoch %d: worker %s is invalid (%s)", epoch, worker_id, verdict)
            tx.verdicts.record(
                epoch,
                worker_id,
                invalid=verdict.invalid,
                evidence=_evidence(tallied, verdict),
                now=tx.now_ms,
            )
            account = accounts.worker(worker_id)
            memo = _memo(epoch, tallied, verdict)
            postings.append(Posting(EntryKind.VERDICT, account, account, 0, memo=memo))
        tx.book.post(postings)
        self._reputations(tx, tallies, invalid, _workers_with_work(entries))
        reveal_seed(tx)
        return {w: t.validated for w, t in tallies.items() if t.validated and w not in invalid}

    def _reputations(
        self, tx: Transaction, tallies: Mapping[str, Tally], invalid: set[str], worked: set[str]
    ) -> None:
        active = sorted(worked | set(tallies))
        previous = tx.validations.reputations(active)
        for worker_id in active:
            tallied = tallies.get(worker_id)
            clean = worker_id not in invalid and (tallied is None or tallied.failures == 0)
            after = reputation_after(previous.get(worker_id, 0.0), clean, self.sampling)
            tx.validations.set_reputation(worker_id, after, clean, tx.book.epoch.epoch)

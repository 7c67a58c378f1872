"""Epoch verdicts: what verification concludes about each worker when an epoch closes.

Run inside the close's ledger transaction, before settlement:

1. panels still pending carry over the close of their claim's epoch and, at the next
   close, are settled when at least two owners voted and all agree, else abandoned
   (:func:`~swarmgen.core.verification.escalation.settle_stalled`);
2. each worker's checks this epoch are its settled claims plus the ballots it cast on
   settled panels; its failures are its rejected claims plus its ballots on the losing
   side (or absent). Seats a worker let expire are not ballots and never count here
   (they cost reliability, not honesty: :mod:`swarmgen.core.verification.reliability`);
3. verdicts follow the owner: the checks and failures of all of an owner's keys are
   pooled and :func:`~swarmgen.core.verification.verdicts.epoch_verdict` judges the
   pool against the highest honest false-positive rate of its offerings. An owner is
   invalid when the pool is, when its claims alone are, or one key's claims alone are
   (so honest ballots and siblings' claims cannot dilute rejected claims), when one of
   its keys is by itself (so honest siblings' clean
   checks cannot dilute a cheating key's failures), or when one of its keys already
   stands invalid for the epoch (an operator's verdict); then *every* key of the
   owner is recorded invalid, so the close that follows forfeits and slashes them all.
   A key without an owner is its own owner. Spreading work over many keys therefore
   hides no failure;
4. each verdict is stored and posted as a ``verdict`` record with its evidence;
5. reputations move per owner
   (:func:`~swarmgen.core.verification.sampling.reputation_after`): from the owner's
   lowest key reputation, and written to every key of the owner, so a new key never
   starts better than its owner's worst. An owner without failures gains only when
   checks of its own claims were decided at this close and none was abandoned: one
   with a claim whose check was abandoned keeps its reputation, so a colluder who splits
   every panel of its partner's cheats does not let it earn trust and fewer checks; and
   one whose claims are all still pending (their panels carried over the close of
   their epoch) keeps it too, so a cheat's first close, before any of its checks is
   decided, earns it nothing (it counted as a clean epoch, and the cheat's next epoch
   was checked at 0.81 instead of 1);
6. the sampling seed is revealed.

It returns the counted checks per validator, which settlement pays from the pool.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
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
    claims: int = 0
    """Its own claims among ``checks`` (the rest are its ballots)."""

    @property
    def on_claims(self) -> Tally:
        """Its claims alone: ballots it cast honestly must not dilute rejected claims."""
        return Tally(self.claims, len(self.rejected), self.honest_fp)


def honest_fp(registry: Registry, offering: str) -> float:
    """The offering's calibrated false-positive bound, or :data:`DEFAULT_HONEST_FP`."""
    bound = thresholds_of(registry, offering).false_positive_bound
    return bound if bound is not None and 0.0 < bound < 1.0 else DEFAULT_HONEST_FP


_CHECK_STATUS = {
    Status.UPHELD: CheckStatus.UPHELD,
    Status.REJECTED: CheckStatus.REJECTED,
    Status.ABANDONED: CheckStatus.ABANDONED,
}


def _settle_stalled(tx: Transaction, escalation: EscalationPolicy) -> set[str]:
    """Apply :func:`~swarmgen.core.verification.escalation.settle_stalled` to every
    panel still pending: carried over at its claim's own close, settled or abandoned at
    the next. Returns the claimants of the checks abandoned."""
    epoch = tx.book.epoch.epoch
    abandoned: set[str] = set()
    for check in tx.validations.pending_checks():
        ballots = ballots_of(tx.validations.ballots(check.job_id))
        owners = tx.workers.owners(b.validator_id for b in ballots)
        decision = settle_stalled(
            ballots, escalation, owners=owners, closes_waited=epoch - check.epoch
        )
        if decision.status is Status.PENDING:
            continue
        status = _CHECK_STATUS[decision.status]
        if status is CheckStatus.ABANDONED:
            abandoned.add(check.worker_id)
        reason = (
            f"no agreeing panel by the close after its epoch ({len(ballots)} ballots)"
            if status is CheckStatus.ABANDONED
            else f"settled at close on {len(ballots)} ballots"
        )
        tx.validations.settle(
            check.job_id,
            status,
            epoch=epoch,
            reason=reason,
            now=tx.now_ms,
            penalised=decision.penalised,
        )
    return abandoned


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
        mine.claims += 1
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


def owner_of(worker_id: str, owners: Mapping[str, str]) -> str:
    """The group a key's verdict is pooled in: its owner, or the key alone."""
    owner = owners.get(worker_id)
    return owner if owner is not None else f"key:{worker_id}"


def pooled(tallies: Sequence[Tally]) -> Tally:
    """One tally for an owner: the sum of its keys' checks and failures, judged at the
    highest honest false-positive rate among them (the rate that convicts least)."""
    out = Tally()
    for one in tallies:
        out.checks += one.checks
        out.failures += one.failures
        out.honest_fp = max(out.honest_fp, one.honest_fp)
        out.rejected.extend(one.rejected)
        out.lost.extend(one.lost)
        out.validated += one.validated
        out.claims += one.claims
    return out


def _alone(tallied: Tally) -> Verdict:
    """One key's own verdict: pooling must never hide a key that is invalid by itself
    behind its siblings' clean checks."""
    return epoch_verdict(tallied.checks, tallied.failures, tallied.honest_fp)


def claims_convict(tallied: Tally) -> bool:
    """Whether the claims alone convict where claims and ballots together do not: a
    cheater must not buy its way under the bound by sitting honest seats."""
    claims = tallied.on_claims
    return epoch_verdict(claims.checks, claims.failures, claims.honest_fp).invalid


def _groups(keys: Iterable[str], owners: Mapping[str, str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for worker_id in sorted(set(keys)):
        out.setdefault(owner_of(worker_id, owners), []).append(worker_id)
    return out


def _all_keys(group: str, members: Sequence[str], keys: Mapping[str, list[str]]) -> list[str]:
    return sorted(set(members) | set(keys.get(group, ())))


def _evidence(
    group: str, pool: Tally, verdict: Verdict, tallies: Mapping[str, Tally], members: list[str]
) -> dict[str, Any]:
    return {
        **verdict.as_evidence(),
        "owner": group,
        "keys": {
            k: {"checks": tallies[k].checks, "failures": tallies[k].failures}
            for k in members
            if k in tallies
        },
        "rejected_jobs": list(pool.rejected),
        "lost_ballots": list(pool.lost),
    }


def _memo(epoch: int, group: str, pool: Tally, verdict: Verdict, keys: int) -> dict[str, str | int]:
    """The verdict as a ledger memo: integers and strings only (floats are never hashed)."""
    return {
        "epoch": epoch,
        "owner": group,
        "keys": keys,
        "checks": verdict.checks,
        "failures": verdict.failures,
        "invalid": int(verdict.invalid),
        "p_value": f"{verdict.p_value:.6g}",
        "honest_fp": f"{verdict.honest_fp:.6g}",
        "alpha": f"{verdict.alpha:.6g}",
        "rejected_jobs": ",".join(pool.rejected[:MEMO_IDS]),
        "lost_ballots": ",".join(pool.lost[:MEMO_IDS]),
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
        abandoned = _settle_stalled(tx, self.escalation)
        tallies = tally(tx, self.registry)
        standing = set(tx.verdicts.invalid_workers(epoch))
        owners = tx.workers.owners(set(tallies) | standing)
        groups = _groups(set(tallies) | standing, owners)
        keys = tx.workers.keys_of(owners.values())
        invalid: set[str] = set()
        failed: set[str] = set()
        postings = []
        for group, members in groups.items():
            judged = [k for k in members if k in tallies]
            pool = pooled([tallies[k] for k in judged])
            every = _all_keys(group, members, keys)
            if not judged:  # an operator's verdict alone: it reaches the owner's keys
                verdict = None
                convicted = True
            else:
                verdict = epoch_verdict(pool.checks, pool.failures, pool.honest_fp)
                convicted = (
                    verdict.invalid
                    or claims_convict(pool)
                    or any(k in standing for k in every)
                    or any(_alone(tallies[k]).invalid for k in judged)
                    or any(claims_convict(tallies[k]) for k in judged)
                )
            if pool.failures or convicted:
                failed.add(group)
            if convicted:
                invalid.update(every)
                log.warning("epoch %d: owner %s is invalid on %d keys", epoch, group, len(every))
            recorded = every if convicted else judged
            for worker_id in recorded:
                evidence = (
                    _evidence(group, pool, verdict, tallies, every)
                    if verdict is not None
                    else {"owner": group, "by_owner_of": sorted(standing & set(every))}
                )
                tx.verdicts.record(
                    epoch, worker_id, invalid=convicted, evidence=evidence, now=tx.now_ms
                )
                if verdict is not None:
                    account = accounts.worker(worker_id)
                    memo = _memo(epoch, group, pool, verdict, len(every))
                    postings.append(Posting(EntryKind.VERDICT, account, account, 0, memo=memo))
        tx.book.post(postings)
        active = set(tallies) | _workers_with_work(entries) | abandoned
        self._reputations(tx, failed, active, abandoned, tallies)
        reveal_seed(tx)
        return {w: t.validated for w, t in tallies.items() if t.validated and w not in invalid}

    def _reputations(
        self,
        tx: Transaction,
        failed: set[str],
        active: set[str],
        abandoned: set[str],
        tallies: Mapping[str, Tally],
    ) -> None:
        """Move each active owner's reputation once, from its lowest key's, and write it
        to every key of the owner (see the module docstring). An owner with a failure
        falls to 0. Without one it gains only when checks of its own claims were decided
        at this close and none was abandoned: a claim still pending (a cheat's panel
        carried over its epoch's close) or abandoned, or ballots on others' claims, earn
        no trust (an undecided check neither builds nor spends it)."""
        owners = tx.workers.owners(active)
        groups = _groups(active, owners)
        keys = tx.workers.keys_of(owners.values())
        previous = tx.validations.reputations(active)
        epoch = tx.book.epoch.epoch
        for group, members in groups.items():
            clean = group not in failed
            decided = sum(tallies[k].claims for k in members if k in tallies)
            if clean and (not decided or any(k in abandoned for k in members)):
                continue
            start = min(previous.get(k, 0.0) for k in members)
            after = reputation_after(start, clean, self.sampling)
            for worker_id in _all_keys(group, members, keys):
                tx.validations.set_reputation(worker_id, after, clean, epoch)

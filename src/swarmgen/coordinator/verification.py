"""Validation by re-execution in the running coordinator.

Every completed job is drawn for a check at its worker's sampling rate
(:mod:`swarmgen.coordinator.sampling`). A drawn job gets a *check* and one validation
job: a job row owned by the system user, with the same offering, spec and seed, no
price, and the claimant and its owner excluded in SQL. Validation jobs are blinded: an image job is
indistinguishable from an ordinary one, and a text job carries its original's sampling
id, so the validator draws the claimant's choices while its job looks like any other.

When a validation job completes, the coordinator computes the artifacts of both sides
from the stored outputs (never from a worker's hash) and compares them with the
offering's calibrated thresholds (the core's defaults when uncalibrated). The outcome
is a ballot; :func:`~swarmgen.core.verification.escalation.decide` turns the ballots
into a decision, asking for more validators (1 → 3 → 5) while it is pending. A
validation lease that expires is an absent ballot, a failure of that validator.
Everything happens inside the caller's ledger transaction.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from sqlalchemy import and_, select

from swarmgen.blobs import BlobStore
from swarmgen.coordinator.sampling import ensure_seed
from swarmgen.core.jobs import JobState
from swarmgen.core.modalities import Thresholds, modality, modality_of
from swarmgen.core.offerings import Offering
from swarmgen.core.verification import (
    Ballot,
    Comparison,
    EscalationPolicy,
    Failure,
    FailureKind,
    Outcome,
    SamplingPolicy,
    Status,
    Vote,
    ballot_of,
    decide,
    must_check,
    sampling_rate,
)
from swarmgen.registry import Registry
from swarmgen.store import schema as t
from swarmgen.store import validations
from swarmgen.store.ledger import Book
from swarmgen.store.records import JobRecord
from swarmgen.store.validations import BallotRow, CheckStatus

log = logging.getLogger(__name__)


def thresholds_of(registry: Registry, offering: str) -> Thresholds:
    """The offering's calibrated thresholds, or the core's defaults where none are stored."""
    parsed = Offering.parse(offering)
    stored = registry.offering(parsed).thresholds
    return modality(registry.entry(parsed).kind).thresholds(stored)


def ballots_of(rows: Sequence[BallotRow]) -> list[Ballot]:
    return [Ballot(row.validator_id, Vote(row.vote)) for row in rows]


@dataclass
class Verifier:
    """Draws checks, counts ballots and grows panels; called inside ledger transactions."""

    registry: Registry
    blobs: BlobStore
    sampling: SamplingPolicy = field(default_factory=SamplingPolicy)
    escalation: EscalationPolicy = field(default_factory=EscalationPolicy)

    def after_complete(self, book: Book, done: Sequence[JobRecord]) -> int:
        """Draw the completed originals and count the completed validation jobs.

        Returns how many validation jobs were queued (so the caller can wake workers).
        """
        queued = 0
        originals = [job for job in done if job.validates is None]
        if originals:
            queued += self._draw(book, originals)
        for job in done:
            if job.validates is not None:
                queued += self._count(book, job)
        return queued

    # drawing ----------------------------------------------------------------------

    def _draw(self, book: Book, jobs: Sequence[JobRecord]) -> int:
        seed = ensure_seed(book)
        epoch = book.epoch.epoch
        workers = {job.worker_id for job in jobs if job.worker_id}
        reputation = validations.reputations(book.conn, workers)
        owners = _owners(book, workers)
        traffic: dict[str, int] = {}
        queued = 0
        for job in jobs:
            if job.worker_id is None:
                continue
            if job.offering not in traffic:
                traffic[job.offering] = validations.traffic(book.conn, job.offering, epoch - 1)
            rate = sampling_rate(
                reputation.get(job.worker_id, 0.0), traffic[job.offering], self.sampling
            )
            book.conn.execute(
                t.jobs.update()
                .where(t.jobs.c.id == job.id)
                .values(sample_rate=rate, sample_epoch=epoch)
            )
            if must_check(seed, job.id, rate):
                validations.open_check(
                    book.conn, job.id, job.worker_id, job.offering, epoch=epoch, now=book.now_ms
                )
                self._queue(book, job, owners.get(job.worker_id), 1)
                queued += 1
        return queued

    def _queue(self, book: Book, original: JobRecord, owner: str | None, count: int) -> None:
        """Queue ``count`` validation jobs re-executing ``original``.

        They keep the original's priority and creation time, so they queue with the age
        the original had: checks finish within the epoch instead of starving behind new
        work, and the queue holds few of them for dispatch to sort through.
        """
        rows = [
            replace(
                original,
                id=uuid.uuid4().hex,
                user_id=t.SYSTEM_USER,
                price=0,
                state=JobState.QUEUED,
                updated_ms=book.now_ms,
                worker_id=None,
                lease_expires_ms=None,
                attempts=0,
                outputs=None,
                output_digest=None,
                receipt=None,
                timings=None,
                error=None,
                payment=None,
                validates=original.id,
                exclude_worker=original.worker_id,
                exclude_owner=owner,
                sample_rate=None,
                sample_epoch=None,
            ).as_row()
            for _ in range(count)
        ]
        book.conn.execute(t.jobs.insert(), rows)

    # counting ---------------------------------------------------------------------

    def _count(self, book: Book, validation: JobRecord) -> int:
        assert validation.validates is not None and validation.worker_id is not None
        check = validations.get_check(book.conn, validation.validates)
        if check is None or check.status is not CheckStatus.PENDING:
            return 0  # the panel was settled meanwhile; this result is not needed
        (original,) = _jobs(book, [validation.validates])
        comparison = self.compare(original, validation)
        ballot = ballot_of(validation.worker_id, comparison)
        validations.add_ballot(
            book.conn,
            original.id,
            validation.worker_id,
            validation.id,
            vote=ballot.vote.value,
            reason=comparison.reason,
            detail=comparison.detail,
            distance=comparison.distance,
            epoch=book.epoch.epoch,
            now=book.now_ms,
        )
        log.info("check of %s: %s by %s", original.id, ballot.vote.value, validation.worker_id)
        return self.advance(book, original)

    def advance(self, book: Book, original: JobRecord) -> int:
        """Decide ``original``'s panel from its ballots, or queue the validators it needs."""
        ballots = ballots_of(validations.ballots(book.conn, original.id))
        decision = decide(ballots, self.escalation)
        if decision.status is Status.PENDING:
            missing = decision.needed - validations.outstanding(book.conn, original.id)
            if missing > 0:
                owner = _owners(book, {original.worker_id or ""}).get(original.worker_id or "")
                self._queue(book, original, owner, missing)
            return max(missing, 0)
        status = CheckStatus.UPHELD if decision.status is Status.UPHELD else CheckStatus.REJECTED
        reason = _reason(book, original.id, status)
        validations.settle_check(
            book.conn, original.id, status, epoch=book.epoch.epoch, reason=reason, now=book.now_ms
        )
        validations.penalise(book.conn, original.id, decision.penalised)
        validations.cancel_outstanding(book.conn, original.id, book.now_ms)
        return 0

    def expired(self, book: Book) -> list[tuple[str, str, str]]:
        """Validation jobs whose lease has run out: ``(job_id, validates, worker_id)``.

        Call before the reaper requeues them (which forgets the worker).
        """
        c = t.jobs.c
        rows = book.conn.execute(
            select(c.id, c.validates, c.worker_id).where(
                and_(
                    c.state == JobState.LEASED.value,
                    c.lease_expires_ms < book.now_ms,
                    c.validates.is_not(None),
                )
            )
        ).all()
        return [(row.id, row.validates, row.worker_id) for row in rows]

    def absent(self, book: Book, expired: Sequence[tuple[str, str, str]]) -> int:
        """Fail closed: each expired validation lease is an absent ballot of its holder."""
        queued = 0
        for job_id, validates, worker_id in expired:
            check = validations.get_check(book.conn, validates)
            if check is None or check.status is not CheckStatus.PENDING:
                continue
            failure = Failure(FailureKind.TIMEOUT, "validation lease expired")
            validations.add_ballot(
                book.conn,
                validates,
                worker_id,
                job_id,
                vote=Vote.ABSENT.value,
                reason=failure.kind.value,
                detail=str(failure),
                distance=None,
                epoch=book.epoch.epoch,
                now=book.now_ms,
            )
            (original,) = _jobs(book, [validates])
            queued += self.advance(book, original)
        return queued

    # comparing --------------------------------------------------------------------

    def compare(self, original: JobRecord, validation: JobRecord) -> Comparison:
        """Compare the claim with the validator's output, failing closed on either side."""
        spec = original.parsed_spec()
        rules = modality_of(spec)
        identical = bool(original.outputs) and original.outputs == validation.outputs
        if rules.identical_outputs_agree and identical:
            # blob keys are SHA-256 of the bytes, which were checked on submit: identical
            # outputs agree without deriving their artifacts again
            return Comparison(Outcome.AGREE, "identical", "", 0.0)
        thresholds = thresholds_of(self.registry, original.offering)
        return rules.compare(spec, self._blobs(original), self._blobs(validation), thresholds)

    def _blobs(self, job: JobRecord) -> list[bytes] | Failure:
        if not job.outputs:
            return Failure(FailureKind.MISSING, f"job {job.id} has no stored output")
        try:
            return [self.blobs.get(key) for key in job.outputs]
        except (KeyError, OSError) as exc:
            return Failure(FailureKind.MISSING, f"output of {job.id} is gone: {exc}")


def _jobs(book: Book, ids: Sequence[str]) -> list[JobRecord]:
    rows = book.conn.execute(select(t.jobs).where(t.jobs.c.id.in_(list(ids)))).all()
    return [JobRecord.from_row(row) for row in rows]


def _owners(book: Book, worker_ids: set[str]) -> dict[str, str]:
    c = t.workers.c
    rows = book.conn.execute(select(c.id, c.owner_id).where(c.id.in_(sorted(worker_ids)))).all()
    return {row.id: row.owner_id for row in rows if row.owner_id}


def _reason(book: Book, job_id: str, status: CheckStatus) -> str:
    """The first ballot on the deciding side, as the check's short reason."""
    wanted = (
        {Vote.AGREE.value}
        if status is CheckStatus.UPHELD
        else {
            Vote.DISAGREE.value,
            Vote.CLAIM_INVALID.value,
        }
    )
    for row in validations.ballots(book.conn, job_id):
        if row.vote in wanted:
            return row.reason
    return status.value

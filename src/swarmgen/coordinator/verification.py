"""Validation by re-execution in the running coordinator.

Every completed job is drawn for a check at its worker's sampling rate
(:mod:`swarmgen.coordinator.sampling`). A drawn job gets a *check* and its first
stage of validation jobs: job rows owned by the system user, with the same offering,
spec and seed, no price, and the claimant and its owner excluded in SQL. Each seat is
assigned to one worker drawn by stake from the epoch's committed seed
(:mod:`swarmgen.core.verification.draw`); dispatch leases it to that worker alone,
mixed into its ordinary jobs, so no key can take a seat by asking first. A seat nobody
is eligible for waits undrawn and is drawn when workers appear (at their pop, or in
the reaper's pass, :meth:`Verifier.draw_waiting`). Validation jobs are blinded: an image job is
indistinguishable from an ordinary one, and a text job carries its original's sampling
id, so the validator draws the claimant's choices while its job looks like any other.

When a validation job completes, the coordinator computes the artifacts of both sides
from the stored outputs (never from a worker's hash) and compares them with the
offering's calibrated thresholds (the core's defaults when uncalibrated). The outcome
is a ballot; :func:`~swarmgen.core.verification.escalation.decide` turns the ballots
into a decision, asking for more validators (1 → 3 → 5) while it is pending. A
validation lease that expires (leases have a hard maximum, however many heartbeats
arrive) is a *missed seat*, not a ballot: :meth:`Verifier.reseat` records the miss
against its holder's reliability (:mod:`swarmgen.core.verification.reliability`) and
queues the seat again for anyone but that holder. So is a drawn seat its worker has
not taken by :func:`~swarmgen.core.verification.draw.take_deadline_ms` (a key that
heartbeats to stay drawn but never pops). An honest worker that crashes is never
convicted for it; a key that holds or sits on seats to starve a panel loses each at
the cap and cannot take it back.
Everything happens inside the caller's ledger transaction (a store
:class:`~swarmgen.store.port.Transaction` opened with ``ledger=True``, or with
``postings=True`` for a completion or a hand-back: those serialize on
:data:`SERIALIZED` first, so panels are counted and drawn one transaction at a time
while job money moves side by side).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from swarmgen.blobs import BlobStore
from swarmgen.coordinator.sampling import ensure_seed
from swarmgen.coordinator.stakes import LedgerStakes, StakeSource
from swarmgen.core.economics import Terms
from swarmgen.core.jobs import JobState
from swarmgen.core.leases import LEASE_MAX_FACTOR
from swarmgen.core.modalities import Thresholds, modality, modality_of
from swarmgen.core.offerings import Offering
from swarmgen.core.stake import MIN_STAKE
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
from swarmgen.core.verification.draw import (
    LIVE_MS,
    Candidate,
    Seat,
    draw_order,
    eligible,
    pick,
)
from swarmgen.core.verification.escalation import Participant
from swarmgen.core.verification.reliability import MAX_MISSED_SEATS, SeatRecord, may_take_seats
from swarmgen.registry import Registry
from swarmgen.store.port import Transaction
from swarmgen.store.records import SYSTEM_USER, BallotRow, CheckStatus, ExpiredSeat, JobRecord

log = logging.getLogger(__name__)

SERIALIZED = "verification"
"""What a transaction that draws, counts or reseats checks serializes on
(:meth:`~swarmgen.store.port.Transaction.serialize`): ballots of one panel arriving in
two transactions at once would each be counted without the other."""


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
    min_stake: int = MIN_STAKE
    """Locked stake a worker needs to be drawn (an offering's registry value overrides it)."""
    live_ms: int = LIVE_MS
    """How recently a worker must have been seen to be drawn."""
    max_missed_seats: int = MAX_MISSED_SEATS
    """Missed seats this epoch past which a worker is neither drawn nor leased seats."""
    lease_max_factor: int = LEASE_MAX_FACTOR
    """The lease cap in TTLs: a drawn seat not taken within the cap plus a grace, from
    its draw, is missed (:func:`~swarmgen.core.verification.draw.take_deadline_ms`)."""
    economics: Terms | None = None
    """The economic rule's terms: a job priced above what the sampling floor covers is
    checked at the rate its price needs (:meth:`Terms.required_rate`). None: the
    reputation rate alone (trusted workers, tests)."""
    stakes: StakeSource = field(default_factory=LedgerStakes)
    """Where stake is read: the ledger, or the chain (:mod:`swarmgen.coordinator.stakes`).
    A worker slashed on the chain is checked at every job and never drawn."""

    def after_complete(self, tx: Transaction, done: Sequence[JobRecord]) -> int:
        """Draw the completed originals and count the completed validation jobs.

        Returns how many validation jobs were queued (so the caller can wake workers).
        """
        tx.serialize(SERIALIZED)
        queued = 0
        originals = [job for job in done if job.validates is None]
        if originals:
            queued += self._draw(tx, originals)
        for job in done:
            if job.validates is not None:
                queued += self._count(tx, job)
        return queued

    # drawing ----------------------------------------------------------------------

    def _draw(self, tx: Transaction, jobs: Sequence[JobRecord]) -> int:
        seed = ensure_seed(tx)
        epoch = tx.postings.epoch.epoch
        workers = {job.worker_id for job in jobs if job.worker_id}
        reputation = tx.validations.reputations(workers)
        owners = tx.workers.owners(workers)
        slashed = self.stakes.slashed(tx, workers)
        traffic: dict[str, int] = {}
        queued = 0
        for job in jobs:
            if job.worker_id is None:
                continue
            if job.offering not in traffic:
                traffic[job.offering] = tx.jobs.traffic(job.offering, epoch - 1)
            rate = sampling_rate(
                reputation.get(job.worker_id, 0.0), traffic[job.offering], self.sampling
            )
            if self.economics is not None:
                rate = max(rate, self.economics.required_rate(job.price))
            if job.worker_id in slashed:
                rate = 1.0  # slashed on the chain, here or by another coordinator
            tx.jobs.set_draw(job.id, rate, epoch)
            if must_check(seed, job.id, rate):
                tx.validations.open_check(
                    job.id, job.worker_id, job.offering, epoch=epoch, now=tx.now_ms
                )
                first = self.escalation.stages[0]
                self._queue(tx, job, owners.get(job.worker_id), first)
                queued += first
        return queued

    def _queue(self, tx: Transaction, original: JobRecord, owner: str | None, count: int) -> None:
        """Queue ``count`` validation jobs re-executing ``original``.

        They keep the original's priority, creation time and queue key, so they queue
        with the age the original had: checks finish within the epoch instead of starving behind new
        work, and the queue holds few of them for dispatch to sort through. What a worker
        is shown (id, offering, spec, input digest, sampling id, lease length) is drawn
        and computed as for an ordinary job of the same spec; nothing of a previous run
        (worker, lease, outputs) carries over. The price and requester differ but reach
        no worker: the public ledger withholds an epoch until its checks are over
        (:class:`~swarmgen.coordinator.auditing.Publication`).
        """
        rows = [
            replace(
                original,
                id=uuid.uuid4().hex,
                user_id=SYSTEM_USER,
                price=0,
                state=JobState.QUEUED,
                updated_ms=tx.now_ms,
                worker_id=None,
                lease_expires_ms=None,
                leased_ms=None,
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
            )
            for _ in range(count)
        ]
        tx.jobs.insert(rows)
        self.draw_seats(tx, ensure_seed(tx), claims={original.id}, offerings=[original.offering])

    # seating ----------------------------------------------------------------------

    def candidates(self, tx: Transaction, now: int) -> list[Candidate]:
        """Every worker seen within :attr:`live_ms`, with its owner, locked stake (as the
        epoch's draws weigh it, :meth:`StakeSource.for_draw`) and whether it may still
        take seats this epoch (not when slashed on the chain)."""
        workers = tx.workers.seen_since(now - self.live_ms)
        epoch = tx.ledger.open_epoch()
        records = tx.validations.seat_records(epoch.epoch) if epoch and workers else {}
        stakes = self.stakes.for_draw(tx, [w.id for w in workers])
        return [
            Candidate(
                worker_id=w.id,
                owner_id=w.owner_id,
                stake=stakes[w.id].locked,
                offerings=frozenset(
                    self.registry.held(
                        w.capabilities.get("models", ()), w.capabilities.get("memory")
                    )
                ),
                max_pixels=int(w.capabilities.get("max_pixels", 0)),
                last_seen_ms=w.last_seen_ms,
                seats_allowed=not stakes[w.id].slashed
                and may_take_seats(
                    records[w.id].missed if w.id in records else 0, self.max_missed_seats
                ),
            )
            for w in workers
        ]

    def min_stake_of(self, offering: str) -> int:
        """Locked stake needed to serve ``offering`` (registry override, else the setting)."""
        return self.registry.min_stake(Offering.parse(offering), self.min_stake)

    def draw_seats(
        self,
        tx: Transaction,
        seed: bytes,
        *,
        claims: set[str] | None = None,
        offerings: Sequence[str] | None = None,
        now: int | None = None,
    ) -> int:
        """Draw every queued seat (of ``claims``, or of ``offerings``, or all) that has no
        eligible drawn worker: undrawn seats, and seats whose worker has gone quiet, lost
        its stake or joined the panel meanwhile (itself, or another key of its owner: a
        panel counts owners). A seat whose drawn worker is still eligible keeps it.
        Returns how many seats got a (new) worker."""
        now = tx.now_ms if now is None else now
        seats = [
            s for s in tx.seats.queued_seats(offerings) if claims is None or s.validates in claims
        ]
        if not seats:
            return 0
        pool = self.candidates(tx, now)
        panels = tx.seats.panels({s.validates for s in seats if s.validates})
        requesters = {j.id: j.user_id for j in tx.jobs.get_many(panels)}
        drawn = {s.id: s.assigned_worker for s in seats}
        owner_of = {c.worker_id: c.owner_id for c in pool}
        owner_of.update(tx.workers.owners({w for p in panels.values() for w in p}))
        changes: dict[str, str | None] = {}
        by_id = {s.id: s for s in seats}
        for job in (by_id[i] for i in draw_order(seed, by_id)):  # never in id order
            assert job.validates is not None
            others = {
                w
                for s in seats
                if s.validates == job.validates and s.id != job.id
                if (w := drawn[s.id]) is not None
            }
            panel = frozenset(panels.get(job.validates, set()) | others)
            seat = Seat(
                job.validates,
                job.id,
                job.offering,
                job.pixels,
                Participant(job.exclude_worker or "", job.exclude_owner),
                panel,
                frozenset(o for w in panel if (o := owner_of.get(w)) is not None),
                requesters.get(job.validates),
            )
            fit = eligible(pool, seat, now_ms=now, min_stake=self.min_stake_of(job.offering))
            if job.assigned_worker in {c.worker_id for c in fit}:
                continue
            winner = pick(seed, job.validates, job.id, fit)
            if winner != job.assigned_worker:
                drawn[job.id] = changes[job.id] = winner
        tx.seats.assign(changes, now)
        if changes:
            log.info("seats drawn: %s", changes)
        return sum(1 for w in changes.values() if w is not None)

    def draw_waiting(self, tx: Transaction) -> int:
        """The reaper's pass: draw seats that wait undrawn or whose worker went away."""
        if not tx.seats.queued_seats():
            return 0
        return self.draw_seats(tx, ensure_seed(tx))

    # counting ---------------------------------------------------------------------

    def _count(self, tx: Transaction, validation: JobRecord) -> int:
        assert validation.validates is not None and validation.worker_id is not None
        check = tx.validations.get_check(validation.validates)
        if check is None or check.status is not CheckStatus.PENDING:
            return 0  # the panel was settled meanwhile; this result is not needed
        original = tx.jobs.get(validation.validates)
        comparison = self.compare(original, validation)
        ballot = ballot_of(validation.worker_id, comparison)
        tx.validations.add_ballot(
            original.id,
            validation.worker_id,
            validation.id,
            vote=ballot.vote.value,
            reason=comparison.reason,
            detail=comparison.detail,
            distance=comparison.distance,
            epoch=tx.postings.epoch.epoch,
            now=tx.now_ms,
        )
        log.info("check of %s: %s by %s", original.id, ballot.vote.value, validation.worker_id)
        return self.advance(tx, original)

    def advance(self, tx: Transaction, original: JobRecord) -> int:
        """Decide ``original``'s panel from its ballots, or queue the validators it needs."""
        rows = tx.validations.ballots(original.id)
        decision = decide(ballots_of(rows), self.escalation)
        if decision.status is Status.PENDING:
            missing = decision.needed - tx.validations.outstanding(original.id)
            if missing > 0:
                claimant = original.worker_id or ""
                owner = tx.workers.owners([claimant]).get(claimant)
                self._queue(tx, original, owner, missing)
            return max(missing, 0)
        status = CheckStatus.UPHELD if decision.status is Status.UPHELD else CheckStatus.REJECTED
        tx.validations.settle(
            original.id,
            status,
            epoch=tx.postings.epoch.epoch,
            reason=_reason(rows, status),
            now=tx.now_ms,
            penalised=decision.penalised,
        )
        return 0

    def expired(self, tx: Transaction, now: int) -> list[ExpiredSeat]:
        """Validation seats whose lease has run out at ``now``, with their holders, and
        drawn seats their worker has not taken by their deadline, with that worker.

        Call before the reaper requeues them (which forgets the worker).
        """
        return [
            *tx.seats.expired_seats(now),
            *tx.seats.untaken_seats(now, self.lease_max_factor),
        ]

    def reseat(self, tx: Transaction, seat: ExpiredSeat) -> bool:
        """Take back a validation seat its holder let expire (or handed back), or that
        its drawn worker did not take in time, and offer it again.

        The miss is recorded against ``seat.worker_id`` (its reliability, never its
        honesty verdict: no ballot is cast), the seat is queued again and drawn anew
        among the eligible workers less the one that missed it, and dispatch never gives
        it (or any seat of the same panel) back to that worker. A seat whose panel
        settled while it was leased is withdrawn instead (settling leaves leased seats
        to run on). Returns whether the seat was queued again for a new draw (an
        untaken seat: whether its draw was cleared).
        """
        if seat.leased:
            queued = bool(tx.seats.reseat([seat.job_id], tx.now_ms))
        else:
            queued = tx.seats.assign({seat.job_id: None}, tx.now_ms) > 0
        if not queued:
            return False  # taken or settled meanwhile: nothing was missed
        tx.validations.record_miss(
            seat.job_id,
            seat.worker_id,
            seat.validates,
            epoch=tx.postings.epoch.epoch,
            now=tx.now_ms,
        )
        log.info("seat %s on %s missed by %s", seat.job_id, seat.validates, seat.worker_id)
        check = tx.validations.get_check(seat.validates)
        if check is None or check.status is not CheckStatus.PENDING:
            tx.validations.withdraw(seat.validates, tx.now_ms)
            return False
        self.draw_seats(tx, ensure_seed(tx), claims={seat.validates})
        return True

    def missed(self, tx: Transaction, expired: Sequence[ExpiredSeat]) -> int:
        """:meth:`reseat` every expired seat; returns how many were queued again.

        Call before the reaper requeues ordinary jobs, so a seat is never failed for
        running out of attempts."""
        return sum(self.reseat(tx, seat) for seat in expired)

    def handed_back(self, tx: Transaction, worker_id: str, job_ids: Sequence[str]) -> int:
        """:meth:`reseat` the validation seats among ``job_ids`` that ``worker_id`` holds
        and hands back: a seat released is missed like one let expire (with or without
        an error: a worker that cannot run a seat has not served it, but has not failed
        a check either). Returns how many were queued again."""
        tx.serialize(SERIALIZED)
        seats = [
            ExpiredSeat(job.id, job.validates, worker_id)
            for job in tx.jobs.get_many(job_ids)
            if job.validates is not None
            and job.worker_id == worker_id
            and job.state is JobState.LEASED
        ]
        return self.missed(tx, seats)

    def seat_records(self, tx: Transaction) -> dict[str, SeatRecord]:
        """Every worker's missed and served seats in the open epoch: their
        :attr:`~swarmgen.core.verification.reliability.SeatRecord.reliability` scales
        each worker's emission weight at the close."""
        return tx.validations.seat_records(tx.postings.epoch.epoch)

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


def _reason(rows: Sequence[BallotRow], status: CheckStatus) -> str:
    """The first ballot on the deciding side, as the check's short reason."""
    wanted = (
        {Vote.AGREE.value}
        if status is CheckStatus.UPHELD
        else {
            Vote.DISAGREE.value,
            Vote.CLAIM_INVALID.value,
        }
    )
    for row in rows:
        if row.vote in wanted:
            return row.reason
    return status.value

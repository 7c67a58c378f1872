"""Worker-side services: register, pop (long-poll), submit results, heartbeat, release."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import random
import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from dataclasses import field as dataclass_field
from typing import cast

from swarmgen.blobs import BlobStore
from swarmgen.clock import Clock
from swarmgen.coordinator.credits import Payment, refund
from swarmgen.coordinator.domain import Capabilities, Registration, Submission, SubmitOutcome
from swarmgen.coordinator.notify import Notifier, Queued, Waiter, unused
from swarmgen.coordinator.results import checked_result, stored
from swarmgen.coordinator.sampling import ensure_seed
from swarmgen.coordinator.settings import DispatchSettings
from swarmgen.coordinator.stakes import LedgerStakes, StakeSource
from swarmgen.coordinator.verification import SERIALIZED, Verifier
from swarmgen.core import accounts, credits
from swarmgen.core.offerings import Offering
from swarmgen.core.outputs import Output
from swarmgen.core.receipts import Receipt
from swarmgen.core.scheduling import ANY_TIME, Pace, draw_hold_ms, draw_places
from swarmgen.core.verification.reliability import may_take_seats
from swarmgen.errors import (
    FieldProblem,
    Forbidden,
    InvalidRequest,
    NotLeased,
    StakeRequired,
    SwarmgenError,
    UnknownModel,
)
from swarmgen.registry import Registry
from swarmgen.store.port import Store, Transaction
from swarmgen.store.records import Completion, JobRecord, UserRecord, WorkerRecord

log = logging.getLogger(__name__)

SEEN_GRAIN_MS = 1_000
"""A pop marks its worker seen at most this often. Being seen is read in tens of
seconds (online: 60 s; live for a seat draw: 120 s), and the write cost every pop of a
busy worker a statement; a heartbeat marks it every time."""


@dataclass
class WorkerService:
    settings: DispatchSettings
    store: Store
    blobs: BlobStore
    registry: Registry
    clock: Clock
    notifier: Notifier
    verifier: Verifier | None = None
    """Draws completed jobs for checks and counts validation results (None: no checks)."""
    stakes: StakeSource = dataclass_field(default_factory=LedgerStakes)
    """Where the stake that lets a key serve is read (the ledger, or the chain)."""
    _paces: dict[str, Pace] = dataclass_field(default_factory=dict, repr=False)
    """Per worker, what :func:`~swarmgen.core.scheduling.hand_out` needs of its past pops
    (in this process: a worker popping at several replicas is paced at each)."""
    _pace_lock: threading.Lock = dataclass_field(default_factory=threading.Lock, repr=False)
    _coins: random.Random = dataclass_field(default_factory=random.SystemRandom, repr=False)
    """Where the seats' places and holds are drawn: nothing a worker can predict."""

    def register(
        self, worker_id: str, owner: UserRecord | None, name: str, capabilities: Capabilities
    ) -> Registration:
        models: list[str] = []
        for i, text in enumerate(capabilities.models):
            field = f"capabilities.models[{i}]"
            try:
                offering = Offering.parse(text)
            except ValueError as exc:
                raise InvalidRequest(FieldProblem(field, str(exc))) from None
            if offering not in self.registry:
                known = sorted(str(o) for o in self.registry.all_offerings())
                raise UnknownModel(FieldProblem(field, f"unknown model offering {offering}", known))
            if not self.registry.fits(offering, capabilities.memory):
                needed = self.registry.offering(offering).footprint
                raise InvalidRequest(
                    FieldProblem(
                        field,
                        f"{offering} needs {needed} bytes of memory, more than the "
                        f"{capabilities.memory} declared",
                        needed,
                    )
                )
            models.append(str(offering))
        with self.store.transaction() as tx:
            previous = tx.workers.get(worker_id)
        if previous and previous.owner_id and owner and previous.owner_id != owner.id:
            raise Forbidden("this worker key is registered to another owner")
        now = self.clock.now_ms()
        caps = {**asdict(capabilities), "models": models}
        with self.store.transaction() as tx:
            tx.workers.register(
                WorkerRecord(
                    id=worker_id,
                    owner_id=owner.id if owner else (previous.owner_id if previous else None),
                    name=name,
                    capabilities=caps,
                    registered_ms=previous.registered_ms if previous else now,
                    last_seen_ms=now,
                )
            )
            worker = tx.workers.get(worker_id)
        assert worker is not None
        return Registration(worker_id=worker_id, owner_id=worker.owner_id, models=tuple(models))

    def _may_take_seats(self, tx: Transaction, worker_id: str) -> bool:
        """Whether ``worker_id`` may be offered validation seats: not when nothing is
        verified (no seats are drawn), nor once it has let more than ``max_missed_seats``
        expire in the open epoch."""
        if self.verifier is None:
            return False
        missed = tx.validations.missed_count(worker_id)
        return may_take_seats(missed, self.settings.max_missed_seats)

    def _worker(self, worker_id: str) -> WorkerRecord:
        with self.store.transaction(read_only=True) as tx:
            return _registered(tx, worker_id)

    def _served(self, tx: Transaction, worker: WorkerRecord) -> list[str]:
        """The offerings ``worker`` may serve: those whose minimum stake its owner has
        locked behind it, among those its declared memory holds (none: it leases nothing).
        :class:`StakeRequired` (403) when it has no owner or too little stake for every
        one, so a free key cannot take work, or seats, at all."""
        caps = worker.capabilities
        models = self.registry.held(caps["models"], caps.get("memory"))
        if not models:
            return []
        default = self.settings.min_stake
        needed = {m: self.registry.min_stake(Offering.parse(m), default) for m in models}
        least = min(needed.values(), default=0)
        if worker.owner_id is None and least > 0:
            raise StakeRequired(
                "register this worker with its owner's API key and lock stake to serve jobs",
                min_stake=least,
                locked=0,
            )
        if not any(needed.values()):
            return models  # no stake asked of anyone: nothing to read
        locked = self.stakes.current(tx, worker.id).locked
        served = [m for m in models if locked >= needed[m]]
        if not served:
            raise StakeRequired(
                f"lock at least {least} micro-credits of stake behind this worker to serve jobs",
                min_stake=least,
                locked=locked,
            )
        return served

    def _seen(
        self, tx: Transaction, worker: WorkerRecord, served: Sequence[str], now: int
    ) -> tuple[bool, Queued, bool]:
        """Mark ``worker`` seen and draw the waiting seats it might now be drawn for,
        under the open epoch's committed seed. Whether a queued seat is drawn for it (it
        may wait for its hold to pass), what the draw queued, and whether the open epoch
        has no seed yet (:meth:`_draw_unseeded` commits one and draws under it)."""
        if now - worker.last_seen_ms >= SEEN_GRAIN_MS:
            tx.workers.touch(worker.id, now)
        queued = tx.seats.queued_seats(served) if self.verifier else []
        if self.verifier is None or not queued:
            return False, Queued(), False
        held = any(s.assigned_worker == worker.id for s in queued)
        epoch = tx.ledger.open_epoch()
        seed = tx.validations.seed_of(epoch.epoch) if epoch else None
        if seed is not None and self.verifier.draw_seats(tx, seed, offerings=served, now=now):
            return held, wake_for(tx, [], seats=True), False
        return held, Queued(), seed is None

    def _draw_unseeded(self, served: Sequence[str], now: int) -> Queued:
        """A new epoch with no seed yet: commit it (once) and draw under it."""
        assert self.verifier is not None
        with self.store.transaction(now, ledger=True) as tx:
            if self.verifier.draw_seats(tx, ensure_seed(tx), offerings=served):
                return wake_for(tx, [], seats=True)
        return Queued()

    async def pop(
        self, worker_id: str, wait_s: float, max_jobs: int | None = None
    ) -> list[JobRecord]:
        """Lease the best fitting jobs; waits up to ``wait_s`` for one to arrive.

        Validation seats drawn for this worker go out in place of ordinary jobs it is due
        (:func:`~swarmgen.core.scheduling.hand_out`), so the pop returns when it would
        have anyway, in a batch listed in id order: nothing in the answer or its timing
        tells the worker which was drawn for it. Every database call runs in a thread:
        the event loop only waits. Pops waiting together share a short queue
        (:func:`~swarmgen.core.scheduling.fair_share`).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + min(wait_s, self.settings.pop_wait_max_s)
        room = self.notifier.queue
        since = room.fired
        worker, served, limit, seats, seated, leased = await asyncio.to_thread(
            self._pop_once, worker_id, max_jobs
        )
        if not leased and deadline > loop.time():
            with room.waiting(worker.id, served, since) as waiter:
                waiter.seated = seated
                waiter.max_pixels = worker.capabilities["max_pixels"]
                lease = functools.partial(self._lease_woken, waiter, worker, served, limit, seats)
                waiter.serve = lease  # a queued job may start it at once (decision 0029)
                while not leased:
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        break
                    handed = await waiter.wait(min(remaining, self._hold_s(worker.id, waiter)))
                    if handed is not None:
                        leased = cast("list[JobRecord]", handed.result())
                        continue
                    if not waiter.woken and loop.time() >= deadline:
                        break  # its time is up and nothing new: no last look
                    leased = await asyncio.to_thread(lease)
        for job in leased:
            self.notifier.job_changed(job.id)
        return leased

    def _pop_once(
        self, worker_id: str, max_jobs: int | None
    ) -> tuple[WorkerRecord, list[str], int, bool, bool, list[JobRecord]]:
        """A pop's first try, in one thread hop: the registered worker, the offerings its
        stake lets it serve, how many jobs it may take, whether it may be offered
        validation seats, whether a queued seat is drawn for it, and what it leased.

        What it reads and marks and its lease are one transaction: on SQLite every
        transaction queues for the one writer, and this try made five where it now makes
        one (decision 0026). Only the first pop of an epoch with no seed yet makes two
        more (:meth:`_draw_unseeded`, then its lease)."""
        now = self.clock.now_ms()
        with self.store.transaction() as tx:
            worker = tx.workers.get(worker_id)
            if worker is None:
                raise Forbidden("register this worker key first")
            served = self._served(tx, worker)
            seats = self._may_take_seats(tx, worker_id)
            held, wake, unseeded = self._seen(tx, worker, served, now)
            caps = worker.capabilities
            limit = min(max_jobs or caps["max_batch"], caps["max_batch"])
            leased = [] if unseeded else self._lease(worker, served, limit, seats, tx=tx)
        if unseeded:
            wake = self._draw_unseeded(served, now)
            leased = self._lease(worker, served, limit, seats)
        if wake:  # seats drawn for other waiting workers wake them
            self.notifier.queue.fire(wake)
        seated = held or worker.id in wake.workers
        return worker, served, limit, seats, seated, leased

    def _hold_s(self, worker_id: str, waiter: Waiter) -> float:
        """How long a waiting pop sleeps unless woken: for ever (its wait ends first),
        but no longer than until its idle spell's hold passes while a seat is drawn for
        it (:attr:`~.notify.Waiter.seated`: the seat then goes out, with no queue change
        to wake it; decision 0025). What no wake-up names, the room's re-check finds
        (:mod:`swarmgen.coordinator.rechecks`)."""
        if not waiter.seated:
            return math.inf
        with self._pace_lock:
            pace = self._paces.get(worker_id)
        due = pace.due_ms if pace else None
        left_s = (due - self.clock.now_ms()) / 1000 if due is not None else 0
        return left_s + 0.005 if left_s > 0 else math.inf

    def _lease_woken(
        self, waiter: Waiter, worker: WorkerRecord, served: Sequence[str], limit: int, seats: bool
    ) -> list[JobRecord]:
        """A waiting pop's lease. It passes on the wake-ups it got and did not use
        (:func:`~swarmgen.coordinator.notify.unused`: another pop won the race, the job
        does not fit this worker, or it leased another offering's job) for offerings
        that still have jobs queued: the next waiter tries them. A lease that fails (the
        database refused it) passes them all on: this pop leaves, its jobs still queued."""
        tickets = self.notifier.queue.take(waiter)
        if self.notifier.queue.abandoned(waiter, tickets):  # nobody would get the jobs
            return []
        try:
            leased = self._lease(worker, served, limit, seats, waiting=True)
        except BaseException:
            self.notifier.queue.pass_on(tickets, {ticket.offering for ticket in tickets})
            raise
        left = unused(tickets, [job.offering for job in leased if job.validates is None])
        if left:
            with self.store.transaction(read_only=True) as tx:
                still = tx.dispatch.queued_in({ticket.offering for ticket in left})
            self.notifier.queue.pass_on(left, still)
        return leased

    def _lease(
        self,
        worker: WorkerRecord,
        served: Sequence[str],
        limit: int,
        seats: bool,
        *,
        waiting: bool = False,
        tx: Transaction | None = None,
    ) -> list[JobRecord]:
        """Lease under the worker's pace, sharing the queue with the pops waiting here
        (``waiting``: this pop is one of them); in ``tx`` when given, else in a
        transaction of its own."""
        caps = worker.capabilities
        now = self.clock.now_ms()
        sharing = self.notifier.queue.most(served) + (0 if waiting else 1)
        hold_ms = int(self.settings.seat_hold_s * 1000)
        with self._pace_lock:
            pace = self._paces.get(worker.id, Pace())
        turn = ANY_TIME if hold_ms <= 0 else pace.turn(now, draw_places(self._coins, limit))
        with contextlib.nullcontext(tx) if tx is not None else self.store.transaction() as work:
            leased = work.dispatch.lease(
                worker.id,
                list(served),
                caps["max_pixels"],
                limit,
                now,
                owner_id=worker.owner_id,
                seats=seats,
                turn=turn,
                sharing=sharing,
            )
        drawn = sum(job.validates is not None for job in leased)
        with self._pace_lock:
            self._paces[worker.id] = pace.after(
                now, turn, drawn, len(leased) - drawn, draw_hold_ms(self._coins, hold_ms)
            )
        return leased

    def _complete(
        self, worker_id: str, checked: list[Completion], receipts: Mapping[str, Receipt]
    ) -> list[str]:
        """Complete the checked results and release their escrow, in one ledger transaction.

        ``receipts`` are the very receipts :meth:`_check` verified: the ledger's own check
        of each (:func:`~swarmgen.core.credits.complete`) finds it verified."""
        if not checked:
            return []
        with self.store.transaction(self.clock.now_ms(), postings=True) as tx:
            if self.verifier:  # first, as a hand-back does: then job rows, then money
                tx.serialize(SERIALIZED)
            # A job's reserved credits turn pending as it completes, and are paid below
            # (a leased job is never pending already: only completing makes it so).
            settle = (Payment.RESERVED, Payment.PENDING)
            done = tx.jobs.complete(worker_id, tx.now_ms, checked, payment=settle)
            paid = [job for job in done if job.payment == Payment.PENDING]
            # the worker's account is locked with the escrows that pay it: one sorted
            # round of locks (on PostgreSQL one insert and one SELECT ... FOR UPDATE)
            payee = [accounts.worker(worker_id)] if paid else []
            held = tx.postings.balances(*(accounts.escrow(job.id) for job in paid), *payee)
            fee = self.settings.validator_fee_ppm
            tx.postings.post(
                posting
                for job in paid
                for posting in credits.complete(held, job.id, job.user_id, receipts[job.id], fee)
            )
            queued = self.verifier.after_complete(tx, done) if self.verifier else 0
            wake = wake_for(tx, [], seats=True) if queued else Queued()
        if wake:
            self.notifier.queue.fire(wake)
        for job in done:
            self.notifier.job_changed(job.id)
        return [job.id for job in done]

    async def submit(self, worker_id: str, results: Sequence[Submission]) -> SubmitOutcome:
        """Accept each result on its own merits, all in one transaction.

        The answer lists what was accepted and what was rejected, with a stable code for
        each rejection; when none is accepted, the first error is raised instead. Output
        blobs are written, and every check and transaction runs, off the event loop (one
        thread hop), which serves other requests meanwhile.
        """
        return await asyncio.to_thread(self._submit, worker_id, results)

    def _submit(self, worker_id: str, results: Sequence[Submission]) -> SubmitOutcome:
        checked, rejected = self._check_all(worker_id, results)
        completions = stored(self.blobs, checked)
        receipts = {receipt.job_id: receipt for receipt, _ in checked}
        accepted = self._complete(worker_id, completions, receipts)
        for completion in completions:  # lost its lease between the check and the transaction
            if completion.job_id not in accepted:
                lost = NotLeased(f"job {completion.job_id} is not leased to this worker")
                rejected.append((completion.job_id, lost))
        if rejected and not accepted:
            raise rejected[0][1]
        return SubmitOutcome(accepted=tuple(accepted), rejected=tuple(rejected))

    def _check_all(
        self, worker_id: str, results: Sequence[Submission]
    ) -> tuple[list[tuple[Receipt, Output]], list[tuple[str, SwarmgenError]]]:
        """Each result checked on its own (signatures, digests, decoded outputs)."""
        with self.store.transaction(read_only=True) as tx:  # _complete reads the jobs again
            _registered(tx, worker_id)
            found = tx.jobs.get_many([r.job_id for r in results])
        jobs = {job.id: job for job in found}
        checked: list[tuple[Receipt, Output]] = []
        rejected: list[tuple[str, SwarmgenError]] = []
        for result in results:
            try:
                checked.append(checked_result(worker_id, result, jobs.get(result.job_id)))
            except SwarmgenError as exc:
                log.info("rejected result for %s: %s", result.job_id, exc.message)
                rejected.append((result.job_id, exc))
        return checked, rejected

    def heartbeat(self, worker_id: str, job_ids: Sequence[str]) -> int:
        """Keep a live worker's leases, each up to its hard end and no further."""
        self._worker(worker_id)
        now = self.clock.now_ms()
        factor = self.settings.lease_max_factor
        with self.store.transaction() as tx:
            tx.workers.touch(worker_id, now)
            return tx.dispatch.extend(worker_id, list(job_ids), now, factor) if job_ids else 0

    def release(self, worker_id: str, job_ids: Sequence[str], error: str | None = None) -> int:
        """Queue handed-back jobs again; with an error, fail (and refund) those out of tries.

        A validation seat handed back is a missed seat, as if it had expired
        (:meth:`Verifier.handed_back`): otherwise a key could release a seat just before
        its lease's hard end and take it again with a fresh lease, for ever."""
        self._worker(worker_id)
        with self.store.transaction(self.clock.now_ms(), postings=True) as tx:
            seats = self.verifier.handed_back(tx, worker_id, job_ids) if self.verifier else 0
            released, failed = tx.dispatch.release(
                worker_id,
                list(job_ids),
                tx.now_ms,
                error=error,
                max_attempts=self.settings.max_attempts,
            )
            refund(tx, tx.jobs.get_many(failed), credits.RefundReason.FAILED)
            wake = wake_for(tx, released, seats=seats > 0)
        if wake:
            self.notifier.queue.fire(wake)
        for job_id in failed:
            self.notifier.job_changed(job_id)
        return len(released) + len(failed) + seats


def _registered(tx: Transaction, worker_id: str) -> WorkerRecord:
    """The worker behind ``worker_id``; :class:`Forbidden` until the key is registered."""
    worker = tx.workers.get(worker_id)
    if worker is None:
        raise Forbidden("register this worker key first")
    return worker


def wake_for(tx: Transaction, job_ids: Sequence[str], *, seats: bool) -> Queued:
    """What queuing ``job_ids`` again, and (with ``seats``) drawing seats, put up for
    lease: the ordinary jobs per offering, and every worker a queued seat is drawn for
    (a seat among ``job_ids`` counts as drawn)."""
    jobs = tx.jobs.get_many(list(job_ids)) if job_ids else []
    ordinary = Counter(job.offering for job in jobs if job.validates is None)
    workers: frozenset[str] = frozenset()
    if seats or sum(ordinary.values()) < len(jobs):
        queued = tx.seats.queued_seats()
        workers = frozenset(s.assigned_worker for s in queued if s.assigned_worker)
    return Queued(jobs=dict(ordinary), workers=workers)

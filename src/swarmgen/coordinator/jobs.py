"""Requester-side services: submit, look up, wait for, fetch and cancel jobs."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace

from swarmgen.blobs import BlobStore, LinkingBlobStore
from swarmgen.clock import Clock
from swarmgen.coordinator.credits import ANONYMOUS, CreditService, Payment, refund
from swarmgen.coordinator.domain import Accepted, JobRequest, JobStatus, Quote
from swarmgen.coordinator.notify import Notifier, Queued
from swarmgen.coordinator.settings import JobSettings
from swarmgen.core import accounts, credits
from swarmgen.core.canonical import digest
from swarmgen.core.jobs import SEED_MAX, Job, JobState
from swarmgen.core.modalities import modality, modality_of
from swarmgen.core.offerings import Offering
from swarmgen.core.pricing import MULTIPLIER_UNIT
from swarmgen.core.priority import admit, priority
from swarmgen.core.scheduling import lease_ttl_s, position, queue_key
from swarmgen.errors import (
    AnonymousRefused,
    Conflict,
    FieldProblem,
    IdempotencyKeyReused,
    InvalidRequest,
    NotFound,
    StorageUnavailable,
    UnknownModel,
)
from swarmgen.registry import Registry
from swarmgen.store.port import Store, Transaction
from swarmgen.store.records import IdempotentRequest, JobRecord, UserRecord


def resolve_offering(registry: Registry, job_in: JobRequest) -> Offering:
    """The registry offering a job asks for, checked against the job's kind and size."""
    try:
        offering = Offering.parse(job_in.model)
    except ValueError as exc:
        raise InvalidRequest(FieldProblem("model", str(exc))) from None
    if offering not in registry:
        known = sorted(str(o) for o in registry.all_offerings())
        raise UnknownModel(FieldProblem("model", f"unknown model offering {offering}", known))
    entry = registry.entry(offering)
    spec = job_in.spec
    if entry.kind != spec.kind:
        raise InvalidRequest(
            FieldProblem("kind", f"{offering} is a {entry.kind.value} model", entry.kind.value)
        )
    problem = modality(entry.kind).model_problem(spec, str(offering), entry.max_pixels)
    if problem is not None:
        raise InvalidRequest(problem)
    return offering


def fingerprint(jobs_in: Sequence[JobRequest], *, batch: bool) -> str:
    """What a submit asked for, as a digest: a retry under the same key must match it.

    Taken before the service fixes unset seeds, so a retry of a request that left the
    seed to the coordinator matches; the batch route and the single one never do."""
    asked = [{"model": job.model, "spec": job.spec.canonical()} for job in jobs_in]
    return digest({"batch": batch, "jobs": asked})


def _accepted(record: JobRecord, position: int | None) -> Accepted:
    return Accepted(
        id=record.id,
        state=record.state.value,
        queue_position=position,
        price=record.price,
        payment=record.payment or Payment.RESERVED,
        seed=record.spec["seed"],
    )


def _ranked(tx: Transaction, records: list[JobRecord]) -> list[Accepted]:
    """``records``, just queued in ``tx``, as accepted, with their places in the queue as
    it stood when they joined it (up to ``POSITION_CAP``): one queue count per offering,
    read before the commit (so the answer needs no read of its own while a worker is being
    woken for them)."""
    # Jobs of one batch share priority and time, so each offering's queue orders them
    # by id, after whatever was ahead of the first of them.
    ids: dict[str, list[str]] = {}
    for record in sorted(records, key=lambda record: record.id):
        ids.setdefault(record.offering, []).append(record.id)
    first = {
        offering: tx.dispatch.queue_position(next(r for r in records if r.id == same[0]))
        for offering, same in ids.items()
    }
    return [
        _accepted(r, position(first[r.offering] + ids[r.offering].index(r.id))) for r in records
    ]


def _not_anonymous(user: UserRecord, what: str) -> None:
    """Anonymous jobs are reachable by id only: the shared user lists and cancels nothing."""
    if user.role == ANONYMOUS:
        raise AnonymousRefused(f"the anonymous key cannot {what}; use an API key of your own")


@dataclass
class JobService:
    settings: JobSettings
    store: Store
    blobs: BlobStore
    registry: Registry
    clock: Clock
    notifier: Notifier
    credits: CreditService

    def quote(self, user: UserRecord, job_in: JobRequest) -> Quote:
        """What ``job_in`` would cost, and whether the balance covers it (nothing is queued)."""
        offering = resolve_offering(self.registry, job_in)
        spec = replace(job_in.spec, seed=job_in.spec.seed or 0)
        offer = self.credits.quote(offering, spec)
        balance = self.credits.balance(user)
        return Quote(
            model=str(offering),
            price=offer.price,
            work_units=offer.work_units,
            multiplier=offer.multiplier_ppm / MULTIPLIER_UNIT,
            balance=balance,
            shortfall=max(0, offer.price - balance),
        )

    def submit(
        self, user: UserRecord, job_in: JobRequest, idempotency_key: str | None = None
    ) -> Accepted:
        """Price the job, reserve its price and queue it, in one ledger transaction.

        Refused with 429 when the user already has their limit of active jobs, and with
        402 (and the shortfall) when their balance does not cover the price. With an
        ``idempotency_key`` see :meth:`submit_many`.
        """
        return self._submit(user, [job_in], idempotency_key, batch=False)[0]

    def _record(self, user: UserRecord, job_in: JobRequest, now: int) -> JobRecord:
        offering = resolve_offering(self.registry, job_in)
        seed = job_in.spec.seed
        spec = replace(job_in.spec, seed=secrets.randbelow(SEED_MAX + 1) if seed is None else seed)
        job = Job(id=uuid.uuid4().hex, offering=offering, spec=spec)
        rules = modality_of(spec)
        return JobRecord(
            id=job.id,
            user_id=user.id,
            kind=spec.kind.value,
            offering=str(offering),
            spec=spec.canonical(),
            input_digest=job.input_digest(),
            pixels=rules.pixels(spec),
            priority=0,
            queue_key=queue_key(0, now, self.settings.aging_points_per_s),
            price=self.credits.quote(offering, spec).price,
            lease_ttl_s=lease_ttl_s(spec, min_s=self.settings.lease_min_s),
            state=JobState.QUEUED,
            created_ms=now,
            updated_ms=now,
            payment=Payment.RESERVED,
            sampling_id=uuid.uuid4().hex if rules.needs_sampling_id(spec) else None,
        )

    def submit_many(
        self,
        user: UserRecord,
        jobs_in: Sequence[JobRequest],
        idempotency_key: str | None = None,
    ) -> list[Accepted]:
        """Queue several jobs all or none: one ledger transaction reserves every price.

        Under an ``idempotency_key`` the user used within the window, the jobs that first
        request queued are answered again, at their price, and nothing more is charged;
        the same key with another request is refused (409). The key is claimed in the
        transaction that reserves the money, so concurrent retries charge once.
        """
        return self._submit(user, jobs_in, idempotency_key, batch=True)

    def _submit(
        self,
        user: UserRecord,
        jobs_in: Sequence[JobRequest],
        key: str | None,
        *,
        batch: bool,
    ) -> list[Accepted]:
        asked = fingerprint(jobs_in, batch=batch) if key is not None else ""
        now = self.clock.now_ms()
        since = now - self.settings.idempotency_window_s * 1000
        if key is not None:  # a retry is answered without pricing anything again
            with self.store.transaction(read_only=True) as tx:
                earlier = tx.idempotency.get(user.id, key, since)
            if earlier is not None:
                return self._replay(earlier, asked)
        records = []
        for index, job_in in enumerate(jobs_in):
            try:
                records.append(self._record(user, job_in, now))
            except InvalidRequest as exc:
                if not batch:
                    raise
                raise InvalidRequest(
                    [replace(p, field=f"jobs[{index}].{p.field}") for p in exc.problems]
                ) from None
        with self.store.transaction(now, postings=True) as tx:
            earlier = None
            if key is not None:
                claim = IdempotentRequest(user.id, key, asked, tuple(r.id for r in records), now)
                earlier = tx.idempotency.claim(claim, since)
            if earlier is None:
                records = self._queue(tx, user, records)
                accepted = _ranked(tx, records)
        if earlier is not None:  # a concurrent retry won the key; nothing was written
            return self._replay(earlier, asked)
        self.notifier.queue.fire(Queued.of(r.offering for r in records))
        return accepted

    def _queue(
        self, tx: Transaction, user: UserRecord, records: list[JobRecord]
    ) -> list[JobRecord]:
        """Admit, reserve and insert ``records`` in ``tx``; they come back ranked."""
        account = accounts.user(user.id)
        # The requester's balance row is locked first: its submits are admitted and
        # reserved one after another, and other requesters' run alongside.
        balances = tx.postings.balances(account, *(accounts.escrow(r.id) for r in records))
        active = tx.jobs.count_active(user.id)
        admit(active + len(records) - 1, self.credits.active_limit(user), self._retry_s())
        credits.require_funds(balances[account], sum(r.price for r in records))
        rank = priority(balances[account], 0, self.credits.policy, anonymous=user.role == ANONYMOUS)
        reserves = []
        for record in records:  # each reservation sees the balance the previous left
            reserves.append(credits.reserve(balances, user.id, record.id, record.price))
            balances[account] -= record.price
        aging = self.settings.aging_points_per_s  # read now: the key keeps the job's place
        records = [
            r.evolve(priority=rank, queue_key=queue_key(rank, r.created_ms, aging)) for r in records
        ]
        tx.jobs.insert(records)
        tx.postings.post(reserves)
        return records

    def _replay(self, earlier: IdempotentRequest, asked: str) -> list[Accepted]:
        """The jobs ``earlier`` queued, as they stand now; 409 if ``asked`` differs."""
        if earlier.fingerprint != asked:
            raise IdempotencyKeyReused(
                "this Idempotency-Key was used with another request; use a new key",
                idempotency_key=earlier.key,
            )
        with self.store.transaction(read_only=True) as tx:
            found = {job.id: job for job in tx.jobs.get_many(earlier.job_ids)}
        return [
            _accepted(job, self._position(job) if job.state is JobState.QUEUED else None)
            for job in (found[job_id] for job_id in earlier.job_ids)
        ]

    def prune_idempotency_keys(self) -> int:
        """Forget idempotency keys whose window has closed (a leader's periodic task)."""
        before = self.clock.now_ms() - self.settings.idempotency_window_s * 1000
        with self.store.transaction() as tx:
            return tx.idempotency.prune(before)

    def _retry_s(self) -> int:
        """When a slot is likely to free: the shortest lease, a pessimistic job length."""
        return self.settings.lease_min_s

    def _position(self, record: JobRecord) -> int:
        with self.store.transaction(read_only=True) as tx:
            return tx.dispatch.queue_position(record)

    def _job(self, job_id: str) -> JobRecord:
        with self.store.transaction(read_only=True) as tx:
            return tx.jobs.get(job_id)

    def _own(self, user: UserRecord, job_id: str) -> JobRecord:
        job = self._job(job_id)
        if job.user_id != user.id:
            raise NotFound(f"no job {job_id}", job_id=job_id)  # never reveal others' jobs
        return job

    def owner(self, job_id: str) -> UserRecord:
        """Who submitted ``job_id``, for a face whose job handles are capabilities of
        their own (404 when there is no such job)."""
        with self.store.transaction(read_only=True) as tx:
            user = tx.users.by_id(tx.jobs.get(job_id).user_id)
        if user is None:
            raise NotFound(f"no job {job_id}", job_id=job_id)
        return user

    def view(self, record: JobRecord) -> JobStatus:
        completed = record.state is JobState.COMPLETED
        return JobStatus(
            id=record.id,
            kind=record.kind,
            model=record.offering,
            state=record.state.value,
            created_ms=record.created_ms,
            updated_ms=record.updated_ms,
            seed=record.spec.get("seed"),
            price=record.price,
            payment=record.payment,
            queue_position=self._position(record) if record.state is JobState.QUEUED else None,
            worker_id=record.worker_id,
            seconds=(record.updated_ms - record.created_ms) / 1000 if completed else None,
            outputs=modality(record.kind).output_count(len(record.outputs or []), completed),
            has_result=completed,
            error=record.error,
            change_seq=record.change_seq,
        )

    async def status(self, user: UserRecord, job_id: str, wait_s: float) -> JobStatus:
        """The job's view; with ``wait_s`` > 0, waits up to that long for a final state.

        Reads run in threads, so the event loop only ever waits on the notifier. A wait
        reads the job again only when woken: by a change of the job, or by the process's
        re-check (:func:`~swarmgen.coordinator.rechecks.recheck_results`) once it is final.
        A read with nothing to wait for is one thread hop (a hop costs about as much CPU
        as the read): its view is built in the same thread."""
        if wait_s <= 0:
            return await asyncio.to_thread(lambda: self.view(self._own(user, job_id)))
        record = await asyncio.to_thread(self._own, user, job_id)
        deadline = asyncio.get_running_loop().time() + min(wait_s, self.settings.result_wait_max_s)
        while not record.state.final:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                break
            woken = await self.notifier.wait_job(job_id, remaining)
            record = await asyncio.to_thread(self._job, job_id)  # its answer is current
            if not woken:
                break  # its time is up
        return await asyncio.to_thread(self.view, record)

    def result(self, user: UserRecord, job_id: str, index: int, fmt: str) -> tuple[bytes, str]:
        """The result bytes and their media type."""
        record = self._own(user, job_id)
        if record.state is not JobState.COMPLETED or not record.outputs:
            raise Conflict(f"job {job_id} is {record.state.value}, not completed", job_id=job_id)
        keys = record.outputs
        try:
            return modality(record.kind).result(
                lambda i: self.blobs.get(keys[i]), len(keys), index, fmt
            )
        except KeyError as exc:  # the store lost it, or holds other bytes under its key
            raise StorageUnavailable(
                f"the result of job {job_id} cannot be read back intact", job_id=job_id
            ) from exc

    def result_link(
        self, user: UserRecord, job_id: str, index: int, fmt: str
    ) -> tuple[str, str] | None:
        """A presigned link to the result's blob and the blob's key (its SHA-256), when
        results are served by redirect and the result is a blob as stored; None to serve
        it with :meth:`result`."""
        if not self.settings.result_redirect_s or not isinstance(self.blobs, LinkingBlobStore):
            return None
        record = self._own(user, job_id)
        if record.state is not JobState.COMPLETED or not record.outputs:
            raise Conflict(f"job {job_id} is {record.state.value}, not completed", job_id=job_id)
        stored = modality(record.kind).stored_result(len(record.outputs), index, fmt)
        if stored is None:
            return None
        blob, media_type = stored
        key = record.outputs[blob]
        return self.blobs.link(key, media_type, self.settings.result_redirect_s), key

    def cancel(self, user: UserRecord, job_id: str) -> JobStatus:
        """Withdraw a job that has not completed and refund its escrow.

        The anonymous key may not: anonymous jobs share one user, and their ids are
        public in the ledger, so cancelling by id would touch other callers' jobs.
        """
        _not_anonymous(user, "cancel jobs")
        record = self._own(user, job_id)
        with self.store.transaction(self.clock.now_ms(), postings=True) as tx:
            cancelled = tx.jobs.cancel(job_id, tx.now_ms)
            if cancelled is None:
                raise Conflict(f"job {job_id} is already {record.state.value}", job_id=job_id)
            if refund(tx, [cancelled], credits.RefundReason.CANCELLED):
                cancelled = cancelled.evolve(payment=Payment.REFUNDED)
        self.notifier.job_changed(job_id)
        return self.view(cancelled)

    def list(
        self,
        user: UserRecord,
        state: JobState | None,
        limit: int,
        updated_since: int | None = None,
        changed_after: int | None = None,
    ) -> list[JobStatus]:
        """The user's jobs, newest first, or what changed after ``changed_after`` (see
        :meth:`swarmgen.store.port.Jobs.of_user`); refused to the anonymous key, see
        :meth:`cancel`."""
        _not_anonymous(user, "list jobs")
        with self.store.transaction(read_only=True) as tx:
            records = tx.jobs.of_user(user.id, limit, state, updated_since, changed_after)
        return [self.view(r) for r in records]

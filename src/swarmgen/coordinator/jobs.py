"""Requester-side services: submit, look up, wait for, fetch and cancel jobs."""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace

from swarmgen.blobs import BlobStore
from swarmgen.clock import Clock
from swarmgen.coordinator.credits import ANONYMOUS, CreditService, Payment, refund
from swarmgen.coordinator.notify import Notifier
from swarmgen.coordinator.schemas import ImageJobIn, JobAccepted, JobView, QuoteOut, TextJobIn
from swarmgen.coordinator.settings import CoordinatorSettings
from swarmgen.core import accounts, credits
from swarmgen.core.jobs import SEED_MAX, ImageSpec, Job, JobState, Message, Spec, TextSpec
from swarmgen.core.offerings import Kind, Offering
from swarmgen.core.priority import admit, priority
from swarmgen.core.scheduling import lease_ttl_s
from swarmgen.errors import Conflict, FieldProblem, InvalidRequest, NotFound, UnknownModel
from swarmgen.registry import Registry
from swarmgen.store.port import Store
from swarmgen.store.records import JobRecord, UserRecord


def build_spec(job_in: ImageJobIn | TextJobIn, seed: int) -> Spec:
    if isinstance(job_in, ImageJobIn):
        return ImageSpec(
            prompt=job_in.prompt,
            negative_prompt=job_in.negative_prompt,
            width=job_in.width,
            height=job_in.height,
            steps=job_in.steps,
            guidance=job_in.guidance,
            seed=seed,
            n=job_in.n,
        )
    messages = tuple(Message(m.role, m.content) for m in job_in.messages or ())
    return TextSpec(
        messages=messages,
        prompt=job_in.prompt,
        max_tokens=job_in.max_tokens,
        temperature=job_in.temperature,
        top_p=job_in.top_p,
        seed=seed,
    )


def resolve_offering(registry: Registry, job_in: ImageJobIn | TextJobIn) -> Offering:
    """The registry offering a job asks for, checked against the job's kind and size."""
    try:
        offering = Offering.parse(job_in.model)
    except ValueError as exc:
        raise InvalidRequest(FieldProblem("model", str(exc))) from None
    if offering not in registry:
        known = sorted(str(o) for o in registry.all_offerings())
        raise UnknownModel(FieldProblem("model", f"unknown model offering {offering}", known))
    entry = registry.entry(offering)
    if entry.kind != Kind(job_in.kind):
        raise InvalidRequest(
            FieldProblem("kind", f"{offering} is a {entry.kind.value} model", entry.kind.value)
        )
    if isinstance(job_in, ImageJobIn) and job_in.width * job_in.height > entry.max_pixels:
        raise InvalidRequest(
            FieldProblem(
                "width", f"width x height exceeds what {offering} allows", entry.max_pixels
            )
        )
    return offering


@dataclass
class JobService:
    settings: CoordinatorSettings
    store: Store
    blobs: BlobStore
    registry: Registry
    clock: Clock
    notifier: Notifier
    credits: CreditService

    def quote(self, user: UserRecord, job_in: ImageJobIn | TextJobIn) -> QuoteOut:
        """What ``job_in`` would cost, and whether the balance covers it (nothing is queued)."""
        offering = resolve_offering(self.registry, job_in)
        spec = build_spec(job_in, job_in.seed or 0)
        offer = self.credits.quote(offering, spec)
        balance = self.credits.balance(user)
        return QuoteOut(
            model=str(offering),
            price=offer.price,
            work_units=offer.work_units,
            multiplier=offer.multiplier,
            balance=balance,
            shortfall=max(0, offer.price - balance),
        )

    def submit(self, user: UserRecord, job_in: ImageJobIn | TextJobIn) -> JobAccepted:
        """Price the job, reserve its price and queue it, in one ledger transaction.

        Refused with 429 when the user already has their limit of active jobs, and with
        402 (and the shortfall) when their balance does not cover the price.
        """
        return self.submit_many(user, [job_in])[0]

    def _record(self, user: UserRecord, job_in: ImageJobIn | TextJobIn, now: int) -> JobRecord:
        offering = resolve_offering(self.registry, job_in)
        seed = job_in.seed if job_in.seed is not None else secrets.randbelow(SEED_MAX + 1)
        spec = build_spec(job_in, seed)
        job = Job(id=uuid.uuid4().hex, offering=offering, spec=spec)
        return JobRecord(
            id=job.id,
            user_id=user.id,
            kind=spec.kind.value,
            offering=str(offering),
            spec=spec.canonical(),
            input_digest=job.input_digest(),
            pixels=spec.pixels if isinstance(spec, ImageSpec) else 0,
            priority=0,
            price=self.credits.quote(offering, spec).price,
            lease_ttl_s=lease_ttl_s(spec, min_s=self.settings.lease_min_s),
            state=JobState.QUEUED,
            created_ms=now,
            updated_ms=now,
            payment=Payment.RESERVED,
            sampling_id=uuid.uuid4().hex if isinstance(spec, TextSpec) else None,
        )

    def submit_many(
        self, user: UserRecord, jobs_in: Sequence[ImageJobIn | TextJobIn]
    ) -> list[JobAccepted]:
        """Queue several jobs all or none: one ledger transaction reserves every price."""
        now = self.clock.now_ms()
        records = []
        for index, job_in in enumerate(jobs_in):
            try:
                records.append(self._record(user, job_in, now))
            except InvalidRequest as exc:
                if len(jobs_in) == 1:
                    raise
                raise InvalidRequest(
                    [replace(p, field=f"jobs[{index}].{p.field}") for p in exc.problems]
                ) from None
        with self.store.transaction(now, ledger=True) as tx:
            active = tx.jobs.count_active(user.id)
            admit(active + len(records) - 1, self.credits.active_limit(user), self._retry_s())
            account = accounts.user(user.id)
            balances = tx.book.balances(account, *(accounts.escrow(r.id) for r in records))
            credits.require_funds(balances[account], sum(r.price for r in records))
            rank = priority(
                balances[account], 0, self.credits.policy, anonymous=user.role == ANONYMOUS
            )
            reserves = []
            for record in records:  # each reservation sees the balance the previous left
                reserves.append(credits.reserve(balances, user.id, record.id, record.price))
                balances[account] -= record.price
            records = [replace(r, priority=rank) for r in records]
            tx.jobs.insert(records)
            tx.book.post(reserves)
        self.notifier.queue.fire()
        # Jobs of one batch share priority and time, so the queue orders them by id.
        in_queue = sorted(record.id for record in records)
        first = self._position(min(records, key=lambda record: record.id))
        return [
            JobAccepted(
                id=record.id,
                state=record.state.value,
                queue_position=first + in_queue.index(record.id),
                price=record.price,
                payment=Payment.RESERVED,
                seed=record.spec["seed"],
            )
            for record in records
        ]

    def _retry_s(self) -> int:
        """When a slot is likely to free: the shortest lease, a pessimistic job length."""
        return self.settings.lease_min_s

    def _position(self, record: JobRecord) -> int:
        with self.store.transaction() as tx:
            return tx.dispatch.queue_position(record, self.settings.aging_points_per_s)

    def _job(self, job_id: str) -> JobRecord:
        with self.store.transaction() as tx:
            return tx.jobs.get(job_id)

    def _own(self, user: UserRecord, job_id: str) -> JobRecord:
        job = self._job(job_id)
        if job.user_id != user.id:
            raise NotFound(f"no job {job_id}", job_id=job_id)  # never reveal others' jobs
        return job

    def view(self, record: JobRecord) -> JobView:
        completed = record.state is JobState.COMPLETED
        return JobView(
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
            outputs=len(record.outputs or []) if record.kind == "image" else int(completed),
            result_url=f"/api/v1/jobs/{record.id}/result" if completed else None,
            error=record.error,
        )

    async def status(self, user: UserRecord, job_id: str, wait_s: float) -> JobView:
        """The job's view; with ``wait_s`` > 0, waits up to that long for a final state."""
        record = self._own(user, job_id)
        deadline = asyncio.get_running_loop().time() + min(wait_s, self.settings.result_wait_max_s)
        while not record.state.final:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                break
            await self.notifier.wait_job(job_id, min(remaining, 1.0))
            record = self._job(job_id)
        return self.view(record)

    def result(self, user: UserRecord, job_id: str, index: int, fmt: str) -> tuple[bytes, str]:
        """The result bytes and their media type."""
        record = self._own(user, job_id)
        if record.state is not JobState.COMPLETED or not record.outputs:
            raise Conflict(f"job {job_id} is {record.state.value}, not completed", job_id=job_id)
        if record.kind == Kind.IMAGE.value:
            if not 0 <= index < len(record.outputs):
                raise InvalidRequest(
                    FieldProblem("index", "no image at this index", len(record.outputs) - 1)
                )
            return self.blobs.get(record.outputs[index]), "image/png"
        data = self.blobs.get(record.outputs[0])
        if fmt == "json":
            return data, "application/json"
        return json.loads(data)["text"].encode("utf-8"), "text/plain; charset=utf-8"

    def cancel(self, user: UserRecord, job_id: str) -> JobView:
        record = self._own(user, job_id)
        with self.store.transaction(self.clock.now_ms(), ledger=True) as tx:
            cancelled = tx.jobs.cancel(job_id, tx.now_ms)
            if cancelled is None:
                raise Conflict(f"job {job_id} is already {record.state.value}", job_id=job_id)
            if refund(tx, [cancelled], credits.RefundReason.CANCELLED):
                cancelled = replace(cancelled, payment=Payment.REFUNDED)
        self.notifier.job_changed(job_id)
        return self.view(cancelled)

    def list(
        self,
        user: UserRecord,
        state: JobState | None,
        limit: int,
        updated_since: int | None = None,
    ) -> list[JobView]:
        with self.store.transaction() as tx:
            records = tx.jobs.of_user(user.id, limit, state, updated_since)
        return [self.view(r) for r in records]

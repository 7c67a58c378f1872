"""Requester-side services: submit, look up, wait for, fetch and cancel jobs."""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from dataclasses import dataclass

from swarmgen.blobs import BlobStore
from swarmgen.clock import Clock
from swarmgen.coordinator.notify import Notifier
from swarmgen.coordinator.schemas import ImageJobIn, JobAccepted, JobView, TextJobIn
from swarmgen.coordinator.settings import CoordinatorSettings
from swarmgen.core.jobs import SEED_MAX, ImageSpec, Job, JobState, Message, Spec, TextSpec
from swarmgen.core.offerings import Kind, Offering
from swarmgen.core.scheduling import lease_ttl_s
from swarmgen.errors import Conflict, FieldProblem, InvalidRequest, NotFound, UnknownModel
from swarmgen.registry import Registry
from swarmgen.store.records import JobRecord, UserRecord
from swarmgen.store.sql import SqlStore


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
    store: SqlStore
    blobs: BlobStore
    registry: Registry
    clock: Clock
    notifier: Notifier

    def submit(self, user: UserRecord, job_in: ImageJobIn | TextJobIn) -> JobAccepted:
        offering = resolve_offering(self.registry, job_in)
        seed = job_in.seed if job_in.seed is not None else secrets.randbelow(SEED_MAX + 1)
        spec = build_spec(job_in, seed)
        job = Job(id=uuid.uuid4().hex, offering=offering, spec=spec)
        now = self.clock.now_ms()
        record = JobRecord(
            id=job.id,
            user_id=user.id,
            kind=spec.kind.value,
            offering=str(offering),
            spec=spec.canonical(),
            input_digest=job.input_digest(),
            pixels=spec.pixels if isinstance(spec, ImageSpec) else 0,
            priority=0,
            price=0,
            lease_ttl_s=lease_ttl_s(spec, min_s=self.settings.lease_min_s),
            state=JobState.QUEUED,
            created_ms=now,
            updated_ms=now,
        )
        self.store.insert_job(record)
        self.notifier.queue.fire()
        return JobAccepted(
            id=record.id,
            state=record.state.value,
            queue_position=self.store.queue_position(record),
            price=record.price,
            seed=seed,
        )

    def _own(self, user: UserRecord, job_id: str) -> JobRecord:
        job = self.store.get_job(job_id)
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
            queue_position=(
                self.store.queue_position(record) if record.state is JobState.QUEUED else None
            ),
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
            record = self.store.get_job(job_id)
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
        cancelled = self.store.cancel_job(job_id, self.clock.now_ms())
        if cancelled is None:
            raise Conflict(f"job {job_id} is already {record.state.value}", job_id=job_id)
        self.notifier.job_changed(job_id)
        return self.view(cancelled)

    def list(self, user: UserRecord, state: JobState | None, limit: int) -> list[JobView]:
        return [self.view(r) for r in self.store.list_jobs(user.id, limit, state)]

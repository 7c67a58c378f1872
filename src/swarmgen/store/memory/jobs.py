"""Jobs and the queue's moves, in memory.

Dispatch orders and filters exactly as the SQL does, and decides who may validate
whom by calling the core's :func:`~swarmgen.core.verification.escalation.may_sit`
itself, the rule the SQL implements.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any

from swarmgen.core.jobs import JobState
from swarmgen.core.leases import LEASE_MAX_FACTOR, extended_expiry_ms
from swarmgen.core.scheduling import (
    ANY_TIME,
    SeatTurn,
    fair_share,
    hand_out,
    position,
    queue_key,
)
from swarmgen.core.verification.escalation import Participant, may_sit
from swarmgen.errors import NotFound
from swarmgen.store.memory.seats import panels_of
from swarmgen.store.memory.tables import Tables
from swarmgen.store.records import Completion, JobRecord, completed

_ACTIVE = (JobState.QUEUED, JobState.LEASED)


class MemoryJobs:
    def __init__(self, tables: Tables) -> None:
        self.t = tables

    def insert(self, jobs: Sequence[JobRecord]) -> None:
        for job in jobs:
            if job.id in self.t.jobs:
                raise ValueError(f"job {job.id} exists")
            self.t.jobs[job.id] = job

    def get(self, job_id: str) -> JobRecord:
        job = self.t.jobs.get(job_id)
        if job is None:
            raise NotFound(f"no job {job_id}", job_id=job_id)
        return job

    def get_many(self, job_ids: Iterable[str]) -> list[JobRecord]:
        return [self.t.jobs[i] for i in dict.fromkeys(job_ids) if i in self.t.jobs]

    def count_active(self, user_id: str) -> int:
        return sum(1 for j in self.t.jobs.values() if j.user_id == user_id and j.state in _ACTIVE)

    def set_payment(self, job_ids: Sequence[str], payment: str) -> None:
        for job_id in job_ids:
            if job_id in self.t.jobs:
                self.t.jobs[job_id] = replace(self.t.jobs[job_id], payment=payment)

    def reserved_total(self, user_id: str) -> int:
        return sum(
            j.price
            for j in self.t.jobs.values()
            if j.user_id == user_id and j.payment == "reserved"
        )

    def of_user(
        self,
        user_id: str,
        limit: int,
        state: JobState | None = None,
        updated_since: int | None = None,
        changed_after: int | None = None,
    ) -> list[JobRecord]:
        mine = [
            j
            for j in self.t.jobs.values()
            if j.user_id == user_id and (state is None or j.state is state)
        ]
        if changed_after is not None:
            mine = sorted(
                (j for j in mine if (j.change_seq or 0) > changed_after),
                key=lambda j: j.change_seq or 0,
            )
        elif updated_since is not None:
            mine = sorted(
                (j for j in mine if j.updated_ms >= updated_since),
                key=lambda j: (j.updated_ms, j.id),
            )
        else:
            mine.sort(key=lambda j: (j.created_ms, j.id), reverse=True)
        return mine[:limit]

    def cancel(self, job_id: str, now: int) -> JobRecord | None:
        job = self.t.jobs.get(job_id)
        if job is None or job.state not in _ACTIVE:
            return None
        job = replace(job, state=JobState.CANCELLED, updated_ms=now, lease_expires_ms=None)
        self.t.jobs[job_id] = job
        return job

    def complete(
        self,
        worker_id: str,
        now: int,
        results: Sequence[Completion],
        payment: tuple[str, str] | None = None,
    ) -> list[JobRecord]:
        done = []
        for result in results:
            job = self.t.jobs.get(result.job_id)
            if job is None or job.worker_id != worker_id or job.state is not JobState.LEASED:
                continue
            job = completed(job, result, now, payment)
            self.t.jobs[job.id] = job
            done.append(job)
        return done

    def set_draw(self, job_id: str, rate: float, epoch: int) -> None:
        job = self.t.jobs[job_id]
        self.t.jobs[job_id] = replace(job, sample_rate=rate, sample_epoch=epoch)

    def traffic(self, offering: str, epoch: int) -> int:
        return sum(
            1 for j in self.t.jobs.values() if j.sample_epoch == epoch and j.offering == offering
        )

    def drawn(self, epoch: int) -> list[tuple[str, float]]:
        return sorted(
            (j.id, float(j.sample_rate or 0.0))
            for j in self.t.jobs.values()
            if j.sample_epoch == epoch
        )

    def offerings_and_specs(self, job_ids: Sequence[str]) -> dict[str, tuple[str, Any]]:
        return {j.id: (j.offering, j.spec) for j in self.get_many(job_ids)}

    def with_payment(self, payment: str) -> list[str]:
        return sorted(j.id for j in self.t.jobs.values() if j.payment == payment)

    def leased_together(self, batches: Iterable[tuple[str, int]]) -> list[JobRecord]:
        wanted = set(batches)
        return sorted(
            (
                j
                for j in self.t.jobs.values()
                if j.state is JobState.COMPLETED
                and j.worker_id is not None
                and j.leased_ms is not None
                and (j.worker_id, j.leased_ms) in wanted
            ),
            key=lambda j: j.id,
        )


def _place(job: JobRecord) -> tuple[int, int, str]:
    """The SQL's queue order (:data:`swarmgen.store.dispatch.ORDER`), best first."""
    return (job.queue_key, job.created_ms, job.id)


class MemoryDispatch:
    def __init__(self, tables: Tables) -> None:
        self.t = tables

    def _may_run(
        self, worker_id: str, owner_id: str | None, job: JobRecord, seats: bool = True
    ) -> bool:
        if job.validates is None:
            return True
        if not seats or job.exclude_worker is None:
            return False  # as SQL compares with NULL
        panel = panels_of(self.t, [job.validates])[job.validates]
        claimant = Participant(job.exclude_worker, job.exclude_owner)
        owners = {o for w in panel if (k := self.t.workers.get(w)) and (o := k.owner_id)}
        original = self.t.jobs.get(job.validates)
        requester = original.user_id if original is not None else None
        return may_sit(
            Participant(worker_id, owner_id),
            claimant,
            panel,
            job.assigned_worker,
            owners,
            requester=requester,
        )

    def due(self, offering: str, max_pixels: int, most: int) -> int:
        found = sum(
            1
            for j in self.t.jobs.values()
            if j.state is JobState.QUEUED
            and j.offering == offering
            and j.validates is None
            and j.pixels <= max_pixels
        )
        return min(found, most)

    def seats_drawn_for(self, worker_ids: Iterable[str]) -> set[str]:
        wanted = set(worker_ids)
        return {
            worker
            for j in self.t.jobs.values()
            if j.state is JobState.QUEUED and (worker := j.assigned_worker or "") in wanted
        }

    def queued_in(self, offerings: Iterable[str]) -> set[str]:
        wanted = set(offerings)
        return {
            j.offering
            for j in self.t.jobs.values()
            if j.state is JobState.QUEUED and j.validates is None and j.offering in wanted
        }

    def lease(  # noqa: PLR0917
        self,
        worker_id: str,
        offerings: Iterable[str],
        max_pixels: int,
        limit: int,
        now: int,
        owner_id: str | None = None,
        *,
        seats: bool = True,
        turn: SeatTurn = ANY_TIME,
        sharing: int = 1,
    ) -> list[JobRecord]:
        wanted = set(offerings)
        fitting = sorted(
            (
                j
                for j in self.t.jobs.values()
                if j.state is JobState.QUEUED and j.offering in wanted and j.pixels <= max_pixels
            ),
            key=_place,
        )
        due = [j.id for j in fitting if j.validates is None]
        due = due[: fair_share(len(due), limit, sharing)]
        drawn, panels = [], set()
        candidates = [
            j
            for j in fitting
            if j.validates is not None and seats and self._may_run(worker_id, owner_id, j)
        ]
        for job in candidates[:limit]:
            if job.validates not in panels:
                panels.add(job.validates)
                drawn.append(job.id)
        leased = []
        for job_id in hand_out(due, drawn, limit, turn, sharing):
            job = self.t.jobs[job_id]
            taken = replace(
                job,
                state=JobState.LEASED,
                worker_id=worker_id,
                lease_expires_ms=now + job.lease_ttl_s * 1000,
                leased_ms=now,
                attempts=job.attempts + 1,
                updated_ms=now,
            )
            self.t.jobs[job.id] = taken
            leased.append(taken)
        return leased

    def may_validate(self, worker_id: str, owner_id: str | None, job_id: str) -> bool:
        job = self.t.jobs.get(job_id)
        return job is not None and self._may_run(worker_id, owner_id, job)

    def queue_position(self, job: JobRecord) -> int:
        mine = _place(job)
        return position(
            sum(
                1
                for j in self.t.jobs.values()
                if j.state is JobState.QUEUED and j.offering == job.offering and _place(j) < mine
            )
        )

    def rekey(self, aging_per_s: int) -> int:
        if self.t.queue_aging == aging_per_s:
            return 0
        for job in list(self.t.jobs.values()):
            key = queue_key(job.priority, job.created_ms, aging_per_s)
            self.t.jobs[job.id] = replace(job, queue_key=key)
        self.t.queue_aging = aging_per_s
        return len(self.t.jobs)

    def release(
        self,
        worker_id: str,
        job_ids: Sequence[str],
        now: int,
        *,
        error: str | None = None,
        max_attempts: int | None = None,
    ) -> tuple[list[str], list[str]]:
        wanted = set(job_ids)

        def held(j: JobRecord) -> bool:
            return j.id in wanted and j.worker_id == worker_id and j.state is JobState.LEASED

        if error is None or max_attempts is None:
            return self._requeue(held, now), []
        return self._requeue_or_fail(held, now, max_attempts, error)

    def extend(
        self, worker_id: str, job_ids: Sequence[str], now: int, max_factor: int = LEASE_MAX_FACTOR
    ) -> int:
        extended = 0
        for job in self._held(worker_id, job_ids):
            expiry = extended_expiry_ms(now, job.leased_ms, job.lease_ttl_s, max_factor)
            self.t.jobs[job.id] = replace(job, lease_expires_ms=expiry)
            extended += 1
        return extended

    def _held(self, worker_id: str, job_ids: Sequence[str]) -> list[JobRecord]:
        found = (self.t.jobs.get(i) for i in dict.fromkeys(job_ids))
        return [j for j in found if j and j.worker_id == worker_id and j.state is JobState.LEASED]

    def reap(self, now: int, max_attempts: int) -> tuple[list[str], list[str]]:
        def expired(j: JobRecord) -> bool:
            return j.state is JobState.LEASED and (j.lease_expires_ms or 0) < now

        return self._requeue_or_fail(expired, now, max_attempts, "lease expired too often")

    def expire(self, submitted_before: int, now: int, error: str) -> list[str]:
        stale = sorted(
            j.id
            for j in self.t.jobs.values()
            if j.state is JobState.QUEUED
            and j.validates is None
            and j.created_ms < submitted_before
        )
        for job_id in stale:
            self.t.jobs[job_id] = replace(
                self.t.jobs[job_id], state=JobState.FAILED, updated_ms=now, error=error
            )
        return stale

    def reapable(self, now: int, submitted_before: int) -> bool:
        return any(
            (j.state is JobState.LEASED and (j.lease_expires_ms or 0) < now)
            or (
                j.state is JobState.QUEUED
                and j.validates is None
                and j.created_ms < submitted_before
            )
            for j in self.t.jobs.values()
        )

    def _requeue(self, where: Callable[[JobRecord], bool], now: int) -> list[str]:
        return self.t.requeue([j.id for j in self.t.jobs.values() if where(j)], now)

    def _requeue_or_fail(
        self, where: Callable[[JobRecord], bool], now: int, max_attempts: int, error: str
    ) -> tuple[list[str], list[str]]:
        failed = sorted(
            j.id for j in self.t.jobs.values() if where(j) and j.attempts >= max_attempts
        )
        for job_id in failed:
            self.t.jobs[job_id] = replace(
                self.t.jobs[job_id],
                state=JobState.FAILED,
                updated_ms=now,
                lease_expires_ms=None,
                error=error,
            )
        return self._requeue(where, now), failed

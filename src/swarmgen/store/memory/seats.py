"""The validation draw's seats, in memory (:mod:`swarmgen.store.seats`'s twin)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from swarmgen.core.jobs import JobState
from swarmgen.core.leases import LEASE_MAX_FACTOR
from swarmgen.core.verification.draw import take_deadline_ms
from swarmgen.store.memory.tables import Tables
from swarmgen.store.records import ExpiredSeat, JobRecord


def panels_of(tables: Tables, checked_job_ids: Iterable[str]) -> dict[str, set[str]]:
    """Per checked job, every worker on its panel (see
    :meth:`swarmgen.store.seats.SeatRepository.panels`); dispatch asks it too."""
    out: dict[str, set[str]] = {i: set() for i in checked_job_ids}
    for j in tables.jobs.values():
        if j.validates in out and j.worker_id:
            out[j.validates].add(j.worker_id)
    for checked, panel in out.items():
        panel.update(b.validator_id for b in tables.ballots.get(checked, []))
    for m in tables.missed_seats:
        if m.checked_job_id in out:
            out[m.checked_job_id].add(m.worker_id)
    return out


class MemorySeats:
    def __init__(self, tables: Tables) -> None:
        self.t = tables

    def panels(self, checked_job_ids: Iterable[str]) -> dict[str, set[str]]:
        return panels_of(self.t, checked_job_ids)

    def queued_seats(self, offerings: Iterable[str] | None = None) -> list[JobRecord]:
        wanted = None if offerings is None else set(offerings)
        return sorted(
            (
                j
                for j in self.t.jobs.values()
                if j.state is JobState.QUEUED
                and j.validates is not None
                and (wanted is None or j.offering in wanted)
            ),
            key=lambda j: j.id,
        )

    def assign(self, assignments: Mapping[str, str | None], now: int) -> int:
        changed = 0
        for job_id, worker_id in assignments.items():
            job = self.t.jobs.get(job_id)
            if (
                job is None
                or job.state is not JobState.QUEUED
                or job.validates is None
                or job.assigned_worker == worker_id
            ):
                continue
            drawn_ms = None if worker_id is None else now
            self.t.jobs[job_id] = replace(
                job, assigned_worker=worker_id, assigned_ms=drawn_ms, updated_ms=now
            )
            changed += 1
        return changed

    def expired_seats(self, now: int) -> list[ExpiredSeat]:
        return [
            ExpiredSeat(j.id, j.validates, j.worker_id)
            for j in self.t.jobs.values()
            if j.state is JobState.LEASED
            and (j.lease_expires_ms or 0) < now
            and j.validates is not None
            and j.worker_id is not None
        ]

    def reseat(self, job_ids: Sequence[str], now: int) -> list[str]:
        wanted = set(job_ids)
        held = [
            j.id
            for j in self.t.jobs.values()
            if j.id in wanted and j.state is JobState.LEASED and j.validates is not None
        ]
        return self.t.requeue(held, now, assigned_worker=None, assigned_ms=None)

    def untaken_seats(self, now: int, max_factor: int = LEASE_MAX_FACTOR) -> list[ExpiredSeat]:
        return [
            ExpiredSeat(j.id, j.validates, j.assigned_worker, leased=False)
            for j in sorted(self.t.jobs.values(), key=lambda j: j.id)
            if j.state is JobState.QUEUED
            and j.validates is not None
            and j.assigned_worker is not None
            and j.assigned_ms is not None
            and take_deadline_ms(j.assigned_ms, j.lease_ttl_s, max_factor) < now
        ]

"""The validation draw's seats: what the coordinator's draw reads and writes.

A seat is a queued or leased validation job (``validates`` names the job it checks).
:meth:`SeatRepository.queued_seats`, :meth:`~SeatRepository.panels` and
:meth:`~SeatRepository.assign` are what the coordinator's draw
(:mod:`swarmgen.core.verification.draw`) reads and writes; :meth:`~SeatRepository.untaken_seats`
finds drawn seats their worker left waiting past
:func:`~swarmgen.core.verification.draw.take_deadline_ms`, and
:meth:`~SeatRepository.expired_seats` those whose lease ran out, for
:meth:`~SeatRepository.reseat` to queue again. Leasing a seat is the queue's move
(:mod:`swarmgen.store.dispatch`), under the same eligibility rule the draw follows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from sqlalchemy import BigInteger, and_, literal, or_, select, update

from swarmgen.core.jobs import JobState
from swarmgen.core.leases import LEASE_MAX_FACTOR, check_factor
from swarmgen.core.verification.draw import TAKE_GRACE_MS
from swarmgen.store import schema as t
from swarmgen.store.base import Repository
from swarmgen.store.dispatch import requeue
from swarmgen.store.records import ExpiredSeat, JobRecord


class SeatRepository(Repository):
    def expired_seats(self, now: int) -> list[ExpiredSeat]:
        """Validation jobs whose lease has run out, with their holders.

        Read before :meth:`~swarmgen.store.dispatch.DispatchRepository.reap` requeues
        them (which forgets the worker).
        """
        c = t.jobs.c
        rows = self.conn.execute(
            select(c.id, c.validates, c.worker_id).where(
                c.state == JobState.LEASED.value,
                c.lease_expires_ms < now,
                c.validates.is_not(None),
            )
        ).all()
        return [ExpiredSeat(row.id, row.validates, row.worker_id) for row in rows]

    def reseat(self, job_ids: Sequence[str], now: int) -> list[str]:
        """Queue expired validation seats again, for anyone but who let them expire.

        Unlike :meth:`~swarmgen.store.dispatch.DispatchRepository.reap` a seat is never
        failed for running out of attempts (each expiry bars its holder from the panel,
        so the seat cannot cycle through one key), and a drawn seat's
        ``assigned_worker`` is cleared for the next draw.
        """
        c = t.jobs.c
        held = and_(
            c.id.in_(list(job_ids)), c.state == JobState.LEASED.value, c.validates.is_not(None)
        )
        return requeue(self.conn, held, now, assigned_worker=None, assigned_ms=None)

    def untaken_seats(self, now: int, max_factor: int = LEASE_MAX_FACTOR) -> list[ExpiredSeat]:
        """Queued seats whose drawn worker has not taken them by
        :func:`~swarmgen.core.verification.draw.take_deadline_ms` (``assigned_ms`` plus
        ``max_factor`` TTLs plus the grace), with that worker.

        The rows stay locked for the caller's transaction (``SKIP LOCKED``: a seat a
        worker is leasing right now is left to it), so a seat found here cannot be taken
        before the caller clears its draw (:meth:`assign`) and records the miss.
        """
        c = t.jobs.c
        deadline = (
            c.assigned_ms
            + literal(check_factor(max_factor), BigInteger) * c.lease_ttl_s * 1000
            + literal(TAKE_GRACE_MS, BigInteger)
        )
        rows = self.conn.execute(
            select(c.id, c.validates, c.assigned_worker)
            .where(
                c.state == JobState.QUEUED.value,
                c.validates.is_not(None),
                c.assigned_worker.is_not(None),
                deadline < now,
            )
            .order_by(c.id)
            .with_for_update(skip_locked=True)
        ).all()
        return [
            ExpiredSeat(row.id, row.validates, row.assigned_worker, leased=False) for row in rows
        ]

    def queued_seats(self, offerings: Iterable[str] | None = None) -> list[JobRecord]:
        """Queued validation jobs (of ``offerings``, or all), drawn or not: what the
        coordinator draws, or draws again when their drawn worker is no longer eligible."""
        c = t.jobs.c
        query = select(t.jobs).where(c.state == JobState.QUEUED.value, c.validates.is_not(None))
        if offerings is not None:
            query = query.where(c.offering.in_(list(offerings)))
        return [JobRecord.from_row(row) for row in self.conn.execute(query.order_by(c.id))]

    def panels(self, checked_job_ids: Iterable[str]) -> dict[str, set[str]]:
        """Per checked job, every worker on its panel: holding or having held a seat,
        having voted, or having missed a seat (the draw never seats them again)."""
        ids = sorted(set(checked_job_ids))
        out: dict[str, set[str]] = {i: set() for i in ids}
        if not ids:
            return out
        c, b, m = t.jobs.c, t.ballots.c, t.missed_seats.c
        queries = (
            select(c.validates, c.worker_id).where(c.validates.in_(ids), c.worker_id.is_not(None)),
            select(b.job_id, b.validator_id).where(b.job_id.in_(ids)),
            select(m.checked_job_id, m.worker_id).where(m.checked_job_id.in_(ids)),
        )
        for query in queries:
            for checked, worker in self.conn.execute(query):
                out[checked].add(worker)
        return out

    def assign(self, assignments: Mapping[str, str | None], now: int) -> int:
        """Set the drawn worker of queued seats (``None``: undrawn, nobody may lease it),
        drawn at ``now`` (its deadline to take the seat counts from there). Returns how
        many seats changed. Seats are updated in id order, the order every transaction
        locks jobs in (:func:`~swarmgen.store.dispatch.lock_in_order`)."""
        c = t.jobs.c
        changed = 0
        for job_id, worker_id in sorted(assignments.items()):
            changed += self.conn.execute(
                update(t.jobs)
                .where(
                    c.id == job_id,
                    c.state == JobState.QUEUED.value,
                    c.validates.is_not(None),
                    or_(c.assigned_worker.is_(None), c.assigned_worker != worker_id)
                    if worker_id is not None
                    else c.assigned_worker.is_not(None),
                )
                .values(
                    assigned_worker=worker_id,
                    assigned_ms=None if worker_id is None else now,
                    updated_ms=now,
                )
            ).rowcount
        return changed

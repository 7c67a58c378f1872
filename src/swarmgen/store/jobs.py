"""Jobs as requesters and verification see them: insert, read, pay, cancel, complete.

Leasing, releasing and reaping (the queue's moves) live in :mod:`swarmgen.store.dispatch`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Integer, bindparam, func, select, update

from swarmgen.core.jobs import JobState
from swarmgen.errors import NotFound
from swarmgen.store import schema as t
from swarmgen.store.base import Repository
from swarmgen.store.records import Completion, JobRecord, completed

ACTIVE = (JobState.QUEUED.value, JobState.LEASED.value)
"""Job states that still hold a place in the queue or a lease."""

_CHUNK = 500
"""Most ids in one ``IN (...)`` list."""

_BY_IDS = select(t.jobs).where(t.jobs.c.id.in_(bindparam("ids", expanding=True)))
"""The jobs of ``:ids``, as a statement built once: every result a worker submits reads
its jobs twice (the checks, then the completing transaction)."""
_LOCK_IDS = _BY_IDS.order_by(t.jobs.c.id).with_for_update()
"""The same, their rows locked to the transaction's end in id order (PostgreSQL; SQLite
runs one writer at a time): what a completion reads is what it then changes."""


_COUNT_ACTIVE = select(func.count()).where(
    t.jobs.c.user_id == bindparam("user_id"), t.jobs.c.state.in_(ACTIVE)
)
"""Every submit counts its user's active jobs: built once."""


@functools.cache
def _of_user(cursor: str | None, by_state: bool) -> Any:
    """A user's jobs (``:user_id``, at most ``:most``), of ``:state`` when ``by_state``:
    after the ``changed`` cursor (``:cursor``, a ``change_seq``) in feed order, since the
    ``updated`` one (ms) in time order, or newest first; built once each (requesters poll
    the feed)."""
    c = t.jobs.c
    query = select(t.jobs).where(c.user_id == bindparam("user_id"))
    if by_state:
        query = query.where(c.state == bindparam("state"))
    if cursor == "changed":
        query = query.where(c.change_seq > bindparam("cursor")).order_by(c.change_seq)
    elif cursor == "updated":
        query = query.where(c.updated_ms >= bindparam("cursor")).order_by(c.updated_ms, c.id)
    else:
        query = query.order_by(c.created_ms.desc(), c.id.desc())
    return query.limit(bindparam("most", type_=Integer))


class JobRepository(Repository):
    def insert(self, jobs: Sequence[JobRecord]) -> None:
        if jobs:
            self.conn.execute(t.jobs.insert(), [job.as_row() for job in jobs])

    def get(self, job_id: str) -> JobRecord:
        """The job; :class:`NotFound` when there is none."""
        row = self.conn.execute(select(t.jobs).where(t.jobs.c.id == job_id)).first()
        if row is None:
            raise NotFound(f"no job {job_id}", job_id=job_id)
        return JobRecord.from_row(row)

    def get_many(self, job_ids: Iterable[str]) -> list[JobRecord]:
        """The jobs of ``job_ids`` that exist, in no particular order."""
        return self._by_ids(_BY_IDS, job_ids)

    def _by_ids(self, query: Any, job_ids: Iterable[str]) -> list[JobRecord]:
        """``query`` (by ``:ids``) over ``job_ids``, at most ``_CHUNK`` ids a statement."""
        ids = list(job_ids)
        found: list[JobRecord] = []
        for start in range(0, len(ids), _CHUNK):
            rows = self.conn.execute(query, {"ids": ids[start : start + _CHUNK]})
            found.extend(JobRecord.from_row(row) for row in rows)
        return found

    def count_active(self, user_id: str) -> int:
        """Queued plus leased jobs of ``user_id``."""
        return int(self.conn.execute(_COUNT_ACTIVE, {"user_id": user_id}).scalar_one())

    def set_payment(self, job_ids: Sequence[str], payment: str) -> None:
        if job_ids:
            self.conn.execute(
                update(t.jobs).where(t.jobs.c.id.in_(list(job_ids))).values(payment=payment)
            )

    def reserved_total(self, user_id: str) -> int:
        """Micro-credits held in escrow for ``user_id``'s jobs."""
        c = t.jobs.c
        query = select(func.coalesce(func.sum(c.price), 0)).where(
            c.user_id == user_id, c.payment == "reserved"
        )
        return int(self.conn.execute(query).scalar_one())

    def of_user(
        self,
        user_id: str,
        limit: int,
        state: JobState | None = None,
        updated_since: int | None = None,
        changed_after: int | None = None,
    ) -> list[JobRecord]:
        """The user's jobs, newest first; or a feed of what changed, oldest change first.

        ``changed_after`` (a ``change_seq``, exclusive) is the exact feed: numbers are
        given at commit in commit order, so a reader that pages on from the largest it saw
        never skips a commit. ``updated_since`` (ms, inclusive) is the older time cursor,
        kept for clients that send it; times are taken before commit, so it can skip."""
        cursor, since = None, None
        if changed_after is not None:
            cursor, since = "changed", changed_after
        elif updated_since is not None:
            cursor, since = "updated", updated_since
        query = _of_user(cursor, state is not None)
        params = {
            "user_id": user_id,
            "state": state.value if state is not None else None,
            "cursor": since,
            "most": limit,
        }
        return [JobRecord.from_row(row) for row in self.conn.execute(query, params)]

    def cancel(self, job_id: str, now: int) -> JobRecord | None:
        """Cancel an active job; the updated record, or None when it was already final."""
        result = self.conn.execute(
            update(t.jobs)
            .where(t.jobs.c.id == job_id, t.jobs.c.state.in_(ACTIVE))
            .values(state=JobState.CANCELLED.value, updated_ms=now, lease_expires_ms=None)
        )
        if result.rowcount == 0:
            return None
        return self.get(job_id)

    def complete(
        self,
        worker_id: str,
        now: int,
        results: Sequence[Completion],
        payment: tuple[str, str] | None = None,
    ) -> list[JobRecord]:
        """Mark jobs leased to ``worker_id`` completed.

        Returns the records that were completed; a job whose lease was lost meanwhile
        is left alone and missing from the answer. With ``payment`` ``(held, then)``, a
        completed job whose credits were ``held`` is ``then`` (its record says so), in
        the same write: a second UPDATE numbered each job again in the change feed.
        """
        wanted = {result.job_id: result for result in results}
        # Locked as read: a cancel or hand-back committed meanwhile is seen, not paid out
        # (job money no longer waits for one ledger lock, decision 0027).
        done = [
            completed(job, wanted[job.id], now, payment)
            for job in self._by_ids(_LOCK_IDS, wanted)
            if job.worker_id == worker_id and job.state is JobState.LEASED
        ]
        if not done:
            return []
        self.conn.execute(
            _COMPLETE,
            [
                {
                    "job_id": job.id,
                    "now": now,
                    "new_payment": job.payment,
                    "new_outputs": job.outputs,
                    "new_output_digest": job.output_digest,
                    "new_receipt": job.receipt,
                    "new_timings": job.timings,
                }
                for job in done
            ],
        )
        return done

    # sampling draws ---------------------------------------------------------------

    def set_draw(self, job_id: str, rate: float, epoch: int) -> None:
        """Record the sampling rate and epoch a completed original job was drawn under."""
        self.conn.execute(
            update(t.jobs).where(t.jobs.c.id == job_id).values(sample_rate=rate, sample_epoch=epoch)
        )

    def traffic(self, offering: str, epoch: int) -> int:
        """Jobs of ``offering`` whose draw fell in ``epoch``."""
        c = t.jobs.c
        query = select(func.count()).where(c.sample_epoch == epoch, c.offering == offering)
        return int(self.conn.execute(query).scalar_one())

    def drawn(self, epoch: int) -> list[tuple[str, float]]:
        """``(job_id, rate)`` of every job whose draw fell in ``epoch``."""
        c = t.jobs.c
        rows = self.conn.execute(
            select(c.id, c.sample_rate).where(c.sample_epoch == epoch).order_by(c.id)
        ).all()
        return [(row.id, float(row.sample_rate)) for row in rows]

    def offerings_and_specs(self, job_ids: Sequence[str]) -> dict[str, tuple[str, Any]]:
        """``job_id -> (offering, canonical spec)``: what rewards need, without outputs."""
        c = t.jobs.c
        found: dict[str, tuple[str, Any]] = {}
        ids = list(job_ids)
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            rows = self.conn.execute(select(c.id, c.offering, c.spec).where(c.id.in_(chunk)))
            found.update({row.id: (row.offering, row.spec) for row in rows})
        return found

    def with_payment(self, payment: str) -> list[str]:
        """Ids of the jobs whose credits are in state ``payment`` (e.g. held: pending)."""
        c = t.jobs.c
        rows = self.conn.execute(select(c.id).where(c.payment == payment).order_by(c.id))
        return [row.id for row in rows]

    def leased_together(self, batches: Iterable[tuple[str, int]]) -> list[JobRecord]:
        """Completed jobs of the lease batches ``(worker_id, leased_ms)``: the jobs each
        worker leased at that moment, which the coordinator times together."""
        wanted = sorted(set(batches))
        c = t.jobs.c
        found: list[JobRecord] = []
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            query = select(t.jobs).where(
                c.state == JobState.COMPLETED.value,
                c.worker_id.in_(sorted({w for w, _ in chunk})),
                c.leased_ms.in_(sorted({ms for _, ms in chunk})),
            )
            keys = set(chunk)
            found.extend(
                JobRecord.from_row(row)
                for row in self.conn.execute(query.order_by(c.id))
                if (row.worker_id, row.leased_ms) in keys
            )
        return found


_COMPLETE = (
    update(t.jobs)
    .where(t.jobs.c.id == bindparam("job_id"), t.jobs.c.state == JobState.LEASED.value)
    .values(
        state=JobState.COMPLETED.value,
        updated_ms=bindparam("now"),
        lease_expires_ms=None,
        payment=bindparam("new_payment"),
        outputs=bindparam("new_outputs"),
        output_digest=bindparam("new_output_digest"),
        receipt=bindparam("new_receipt"),
        timings=bindparam("new_timings"),
    )
)
"""One completed job's row, as a statement built once (an executemany per submit)."""

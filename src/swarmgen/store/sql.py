"""The store on SQLAlchemy Core: one class, the same SQL on SQLite and PostgreSQL.

Every method is one short transaction. Dispatch selects candidate rows with
``FOR UPDATE SKIP LOCKED`` (ignored by SQLite, where ``BEGIN IMMEDIATE`` serialises
writers) and flips them to ``leased`` in the same transaction, so two coordinators
never lease one job twice.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Engine,
    and_,
    bindparam,
    exists,
    func,
    literal,
    not_,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from swarmgen.core.jobs import JobState
from swarmgen.errors import NotFound
from swarmgen.store import schema as t
from swarmgen.store.records import JobRecord, UserRecord, WorkerRecord

_ACTIVE = (JobState.QUEUED.value, JobState.LEASED.value)


@dataclass(frozen=True)
class Completion:
    """What a worker returned for one job: blob keys, digest, signed receipt, timings."""

    job_id: str
    outputs: list[str]
    output_digest: str
    receipt: dict[str, Any]
    timings: dict[str, Any]


def _expiry(now: int) -> Any:
    """``now`` plus each row's lease TTL, computed in 64-bit (ms overflow 32-bit ints)."""
    return literal(now, BigInteger) + t.jobs.c.lease_ttl_s * 1000


def _aged(aging_per_s: int) -> Any:
    """A job's priority plus its waiting time, scaled by 1000 and shifted by ``-now``.

    ``priority + (now - created_ms) * aging_per_s / 1000`` orders jobs the same way for
    every ``now``, so the order needs no clock: jobs that wait climb past newer ones.
    """
    return literal(1000, BigInteger) * t.jobs.c.priority - t.jobs.c.created_ms * aging_per_s


def _may_run(worker_id: str, owner_id: str | None) -> Any:
    """Jobs ``worker_id`` may lease: every ordinary job, and validation jobs of a claim that
    is neither its own nor its owner's and whose panel it has not sat on already."""
    c = t.jobs.c
    sibling = t.jobs.alias("sibling")
    on_panel = exists().where(sibling.c.validates == c.validates, sibling.c.worker_id == worker_id)
    voted = exists().where(t.ballots.c.job_id == c.validates, t.ballots.c.validator_id == worker_id)
    allowed = [c.exclude_worker != worker_id, not_(on_panel), not_(voted)]
    if owner_id is not None:
        allowed.append(or_(c.exclude_owner.is_(None), c.exclude_owner != owner_id))
    return or_(c.validates.is_(None), and_(*allowed))


class SqlStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    @contextlib.contextmanager
    def _tx(self, conn: Connection | None) -> Iterator[Connection]:
        """The caller's transaction when given (e.g. a ledger book), else a new one."""
        if conn is not None:
            yield conn
            return
        with self.engine.begin() as new:
            yield new

    # users and keys -------------------------------------------------------------

    def create_user(self, user: UserRecord) -> UserRecord:
        with self.engine.begin() as conn:
            conn.execute(t.users.insert().values(**user.__dict__))
        return user

    def user_by_name(self, name: str) -> UserRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(t.users).where(t.users.c.name == name)).first()
        return UserRecord(**row._mapping) if row else None

    def add_api_key(self, key_id: str, user_id: str, key_hash: str, prefix: str, now: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                t.api_keys.insert().values(
                    id=key_id, user_id=user_id, key_hash=key_hash, prefix=prefix, created_ms=now
                )
            )

    def user_by_key_hash(self, key_hash: str) -> UserRecord | None:
        query = (
            select(t.users)
            .join(t.api_keys, t.api_keys.c.user_id == t.users.c.id)
            .where(t.api_keys.c.key_hash == key_hash, t.api_keys.c.revoked_ms.is_(None))
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return UserRecord(**row._mapping) if row else None

    # workers --------------------------------------------------------------------

    def register_worker(self, worker: WorkerRecord) -> None:
        """Insert the worker, or update its name, owner and capabilities."""
        values = dict(worker.__dict__)
        stmt = self._insert(t.workers).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[t.workers.c.id],
            set_={
                "name": stmt.excluded.name,
                "owner_id": stmt.excluded.owner_id,
                "capabilities": stmt.excluded.capabilities,
                "last_seen_ms": stmt.excluded.last_seen_ms,
            },
        )
        with self.engine.begin() as conn:
            conn.execute(stmt)

    def get_worker(self, worker_id: str) -> WorkerRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(t.workers).where(t.workers.c.id == worker_id)).first()
        return WorkerRecord(**row._mapping) if row else None

    def touch_worker(self, worker_id: str, now: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(t.workers).where(t.workers.c.id == worker_id).values(last_seen_ms=now)
            )

    def remember_nonce(self, worker_id: str, nonce: str, now: int) -> bool:
        """Record a request nonce; False when this worker has used it before."""
        stmt = (
            self._insert(t.nonces)
            .values(worker_id=worker_id, nonce=nonce, seen_ms=now)
            .on_conflict_do_nothing()
            .returning(t.nonces.c.nonce)
        )
        with self.engine.begin() as conn:
            return conn.execute(stmt).first() is not None

    def prune_nonces(self, before_ms: int) -> int:
        with self.engine.begin() as conn:
            return conn.execute(t.nonces.delete().where(t.nonces.c.seen_ms < before_ms)).rowcount

    # jobs -----------------------------------------------------------------------

    def insert_job(self, job: JobRecord, conn: Connection | None = None) -> None:
        self.insert_jobs([job], conn)

    def insert_jobs(self, jobs: Sequence[JobRecord], conn: Connection | None = None) -> None:
        with self._tx(conn) as tx:
            tx.execute(t.jobs.insert(), [job.as_row() for job in jobs])

    def count_active(self, user_id: str, conn: Connection | None = None) -> int:
        """Queued plus leased jobs of ``user_id``."""
        c = t.jobs.c
        query = select(func.count()).where(c.user_id == user_id, c.state.in_(_ACTIVE))
        with self._tx(conn) as tx:
            return int(tx.execute(query).scalar_one())

    def set_payment(
        self, job_ids: Sequence[str], payment: str, conn: Connection | None = None
    ) -> None:
        with self._tx(conn) as tx:
            tx.execute(update(t.jobs).where(t.jobs.c.id.in_(list(job_ids))).values(payment=payment))

    def get_job(self, job_id: str) -> JobRecord:
        with self.engine.connect() as conn:
            row = conn.execute(select(t.jobs).where(t.jobs.c.id == job_id)).first()
        if row is None:
            raise NotFound(f"no job {job_id}", job_id=job_id)
        return JobRecord.from_row(row)

    def get_jobs(self, job_ids: Sequence[str], conn: Connection | None = None) -> list[JobRecord]:
        if not job_ids:
            return []
        with self._tx(conn) as tx:
            rows = tx.execute(select(t.jobs).where(t.jobs.c.id.in_(list(job_ids)))).all()
        return [JobRecord.from_row(row) for row in rows]

    def reserved_total(self, user_id: str) -> int:
        """Micro-credits held in escrow for ``user_id``'s jobs."""
        c = t.jobs.c
        query = select(func.coalesce(func.sum(c.price), 0)).where(
            c.user_id == user_id, c.payment == "reserved"
        )
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def list_jobs(
        self,
        user_id: str,
        limit: int,
        state: JobState | None = None,
        updated_since: int | None = None,
    ) -> list[JobRecord]:
        """The user's jobs, newest first; with ``updated_since`` (ms, inclusive), the jobs
        changed since then, oldest change first, so a client can follow them page by page."""
        c = t.jobs.c
        query = select(t.jobs).where(c.user_id == user_id)
        if state is not None:
            query = query.where(c.state == state.value)
        if updated_since is None:
            query = query.order_by(c.created_ms.desc(), c.id.desc())
        else:
            query = query.where(c.updated_ms >= updated_since).order_by(c.updated_ms, c.id)
        query = query.limit(limit)
        with self.engine.connect() as conn:
            return [JobRecord.from_row(row) for row in conn.execute(query)]

    def queue_position(self, job: JobRecord, aging_per_s: int = 0) -> int:
        """How many queued jobs of the same offering are ahead of ``job`` (0 = next)."""
        c = t.jobs.c
        aged, mine = _aged(aging_per_s), 1000 * job.priority - job.created_ms * aging_per_s
        ahead = or_(
            aged > mine,
            and_(aged == mine, c.created_ms < job.created_ms),
            and_(aged == mine, c.created_ms == job.created_ms, c.id < job.id),
        )
        query = select(func.count()).where(
            c.state == JobState.QUEUED.value, c.offering == job.offering, ahead
        )
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def cancel_job(self, job_id: str, now: int, conn: Connection | None = None) -> JobRecord | None:
        """Cancel an active job; the updated record, or None when it was already final."""
        with self._tx(conn) as tx:
            result = tx.execute(
                update(t.jobs)
                .where(t.jobs.c.id == job_id, t.jobs.c.state.in_(_ACTIVE))
                .values(state=JobState.CANCELLED.value, updated_ms=now, lease_expires_ms=None)
            )
            if result.rowcount == 0:
                return None
            row = tx.execute(select(t.jobs).where(t.jobs.c.id == job_id)).one()
        return JobRecord.from_row(row)

    def lease_jobs(  # noqa: PLR0917
        self,
        worker_id: str,
        offerings: Iterable[str],
        max_pixels: int,
        limit: int,
        now: int,
        aging_per_s: int = 0,
        owner_id: str | None = None,
    ) -> list[JobRecord]:
        """Lease up to ``limit`` queued jobs that fit the worker, best first.

        Best is the highest priority plus ``aging_per_s`` points per second waited. A
        validation job never goes to the worker it checks, to a worker of the same
        ``owner_id``, or to a worker already on that claim's panel (nor two of one panel
        to one worker in a batch).
        """
        c = t.jobs.c
        candidates = (
            select(c.id, c.validates)
            .where(
                c.state == JobState.QUEUED.value,
                c.offering.in_(list(offerings)),
                c.pixels <= max_pixels,
                _may_run(worker_id, owner_id),
            )
            .order_by(_aged(aging_per_s).desc(), c.created_ms, c.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        with self.engine.begin() as conn:
            ids, panels = [], set()
            for row in conn.execute(candidates):
                if row.validates is not None:
                    if row.validates in panels:
                        continue
                    panels.add(row.validates)
                ids.append(row.id)
            if not ids:
                return []
            conn.execute(
                update(t.jobs)
                .where(c.id.in_(ids))
                .values(
                    state=JobState.LEASED.value,
                    worker_id=worker_id,
                    lease_expires_ms=_expiry(now),
                    attempts=c.attempts + 1,
                    updated_ms=now,
                )
            )
            rows = conn.execute(select(t.jobs).where(c.id.in_(ids))).all()
        by_id = {row.id: JobRecord.from_row(row) for row in rows}
        return [by_id[i] for i in ids]

    def complete_jobs(
        self, worker_id: str, now: int, results: Sequence[Completion], conn: Connection
    ) -> list[JobRecord]:
        """Mark jobs leased to ``worker_id`` completed, in the caller's transaction.

        Returns the records that were completed; a job whose lease was lost meanwhile
        is left alone and missing from the answer.
        """
        c = t.jobs.c
        wanted = {result.job_id: result for result in results}
        held = [  # lease changes take the ledger lock the caller holds, so this stays true
            job
            for job in self.get_jobs(list(wanted), conn)
            if job.worker_id == worker_id and job.state is JobState.LEASED
        ]
        if not held:
            return []
        conn.execute(
            update(t.jobs)
            .where(c.id == bindparam("job_id"), c.state == JobState.LEASED.value)
            .values(
                state=JobState.COMPLETED.value,
                updated_ms=now,
                lease_expires_ms=None,
                outputs=bindparam("new_outputs"),
                output_digest=bindparam("new_output_digest"),
                receipt=bindparam("new_receipt"),
                timings=bindparam("new_timings"),
            ),
            [
                {
                    "job_id": job.id,
                    "new_outputs": wanted[job.id].outputs,
                    "new_output_digest": wanted[job.id].output_digest,
                    "new_receipt": wanted[job.id].receipt,
                    "new_timings": wanted[job.id].timings,
                }
                for job in held
            ],
        )
        return [
            replace(
                job,
                state=JobState.COMPLETED,
                updated_ms=now,
                lease_expires_ms=None,
                outputs=wanted[job.id].outputs,
                output_digest=wanted[job.id].output_digest,
                receipt=wanted[job.id].receipt,
                timings=wanted[job.id].timings,
            )
            for job in held
        ]

    @staticmethod
    def _flip(tx: Connection, where: Any, **values: Any) -> list[str]:
        """Lock the jobs matching ``where``, set ``values`` on them; returns their ids."""
        c = t.jobs.c
        ids = list(tx.execute(select(c.id).where(where).with_for_update()).scalars())
        if ids:
            tx.execute(update(t.jobs).where(c.id.in_(ids)).values(**values))
        return ids

    def _requeue(self, where: Any, now: int, conn: Connection | None = None) -> list[str]:
        queued = JobState.QUEUED.value
        with self._tx(conn) as tx:
            return self._flip(
                tx, where, state=queued, worker_id=None, lease_expires_ms=None, updated_ms=now
            )

    def release_jobs(
        self,
        worker_id: str,
        job_ids: Sequence[str],
        now: int,
        *,
        error: str | None = None,
        max_attempts: int | None = None,
        conn: Connection | None = None,
    ) -> tuple[list[str], list[str]]:
        """A worker hands leased jobs back; they are queued again at once.

        With ``error`` (the worker could not run them), a job out of attempts fails with
        that error instead. Returns ``(requeued_ids, failed_ids)``.
        """
        c = t.jobs.c
        held = and_(
            c.id.in_(list(job_ids)), c.worker_id == worker_id, c.state == JobState.LEASED.value
        )
        if error is None or max_attempts is None:
            return self._requeue(held, now, conn), []
        return self._requeue_or_fail(held, now, max_attempts, error, conn)

    def extend_leases(self, worker_id: str, job_ids: Sequence[str], now: int) -> int:
        """Push the leases of jobs a live worker is still running out by their TTL."""
        c = t.jobs.c
        with self.engine.begin() as conn:
            return conn.execute(
                update(t.jobs)
                .where(
                    c.id.in_(list(job_ids)),
                    c.worker_id == worker_id,
                    c.state == JobState.LEASED.value,
                )
                .values(lease_expires_ms=_expiry(now))
            ).rowcount

    def reap_expired(
        self, now: int, max_attempts: int, conn: Connection | None = None
    ) -> tuple[list[str], list[str]]:
        """Queue jobs whose lease expired again; fail those out of attempts.

        Returns ``(requeued_ids, failed_ids)``.
        """
        c = t.jobs.c
        expired = and_(c.state == JobState.LEASED.value, c.lease_expires_ms < now)
        return self._requeue_or_fail(expired, now, max_attempts, "lease expired too often", conn)

    def _requeue_or_fail(
        self, where: Any, now: int, max_attempts: int, error: str, conn: Connection | None
    ) -> tuple[list[str], list[str]]:
        out_of_tries = and_(where, t.jobs.c.attempts >= max_attempts)
        with self._tx(conn) as tx:
            failed = self._flip(
                tx,
                out_of_tries,
                state=JobState.FAILED.value,
                updated_ms=now,
                lease_expires_ms=None,
                error=error,
            )
            requeued = self._requeue(where, now, tx)
        return requeued, failed

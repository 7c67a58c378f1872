"""The queue's moves: lease the best fitting jobs, hand them back, extend, reap.

Dispatch selects candidate rows with ``FOR UPDATE SKIP LOCKED`` (ignored by SQLite,
where ``BEGIN IMMEDIATE`` serialises writers) and flips them to ``leased`` in the same
transaction, so two coordinators never lease one job twice.

A lease never outlives its hard end, ``leased_ms`` plus
:func:`~swarmgen.core.leases.hard_end_ms`'s multiple of the TTL: :meth:`DispatchRepository.lease`
records ``leased_ms`` in the UPDATE that takes the job, and :meth:`~DispatchRepository.extend`
caps the expiry there, so the reaper takes the job back at the cap however many
heartbeats arrive.

Who may validate whom is the core's rule
(:func:`swarmgen.core.verification.escalation.may_sit`: only the worker drawn for a
seat, and only while :func:`~swarmgen.core.verification.escalation.can_validate`
allows it); :func:`may_run` states it as SQL so that dispatch filters in the database.
Which of the ordinary jobs due and the seats drawn go out is
:func:`swarmgen.core.scheduling.hand_out`'s rule, applied to what the queries found.
``tests/integration/store/test_dispatch.py`` checks the SQL and the core agree on
generated cases. What the coordinator's draw (:mod:`swarmgen.core.verification.draw`)
reads and writes of the seats (who is drawn, who sat, which seats expired or went
untaken) is :mod:`swarmgen.store.seats`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    case,
    exists,
    func,
    literal,
    not_,
    or_,
    select,
    tuple_,
    update,
)

from swarmgen.core.jobs import JobState
from swarmgen.core.leases import LEASE_MAX_FACTOR, check_factor
from swarmgen.core.scheduling import (
    ANY_TIME,
    POSITION_CAP,
    SeatTurn,
    fair_share,
    hand_out,
    queue_key,
    share_lookahead,
)
from swarmgen.store import schema as t
from swarmgen.store.base import Repository
from swarmgen.store.records import JobRecord


def _expiry(now: int) -> Any:
    """``now`` plus each row's lease TTL, computed in 64-bit (ms overflow 32-bit ints)."""
    return literal(now, BigInteger) + t.jobs.c.lease_ttl_s * 1000


def _capped_expiry(now: int, factor: int) -> Any:
    """:func:`~swarmgen.core.leases.extended_expiry_ms` in SQL: one TTL on from ``now``,
    never past ``leased_ms + factor × TTL`` (a ``NULL`` start leaves the plain TTL)."""
    c = t.jobs.c
    end = c.leased_ms + literal(check_factor(factor), BigInteger) * c.lease_ttl_s * 1000
    fresh = _expiry(now)
    return case((end < fresh, end), else_=fresh)


QUEUE_AGING = "queue_aging"
"""The ``counters`` row holding the aging (points per second) the stored keys were made with."""
_CHUNK = 5_000
"""Most rows one executemany of :meth:`DispatchRepository.rekey` writes."""

ORDER = (t.jobs.c.queue_key, t.jobs.c.created_ms, t.jobs.c.id)
"""Queue order, best first: the stored :func:`~swarmgen.core.scheduling.queue_key`, then
age, then id; ``ix_jobs_queue`` holds the queued jobs of an offering in this order."""


@functools.cache
def _due(sqlite: bool) -> Select[int, int, str]:
    """The ordinary jobs of ``:offering`` due to a worker holding ``:max_pixels``, best
    first: a range of ``ix_jobs_queue`` read in its own order, as a statement built once
    (values bound at each call).

    On SQLite "not a validation job" is written so that no index can answer it: as
    ``validates IS NULL``, SQLite with statistics (``ANALYZE``) takes it for a selective
    lookup on ``ix_jobs_validates`` (which finds every ordinary job) and sorts the whole
    queue. PostgreSQL estimates ``IS NULL`` right, and an expression wrong, so it keeps
    the plain test. Validation jobs name a job id, never the empty string.
    """
    c = t.jobs.c
    ordinary = func.coalesce(c.validates, "") == "" if sqlite else c.validates.is_(None)
    return (
        select(*ORDER)
        .where(
            c.state == JobState.QUEUED.value,
            c.offering == bindparam("offering"),
            c.pixels <= bindparam("max_pixels"),
            ordinary,
        )
        .order_by(*ORDER)
        .limit(bindparam("most", type_=Integer))
    )


@functools.cache
def _best_query(sqlite: bool) -> Select[int, int, str]:
    """:func:`_due`'s first ``:most``, locked (``SKIP LOCKED`` on PostgreSQL)."""
    return _due(sqlite).with_for_update(skip_locked=True)


@functools.cache
def _count_query(sqlite: bool) -> Select[int]:
    """How many of :func:`_due`'s first ``:most`` there are."""
    return select(func.count()).select_from(_due(sqlite).subquery())


@functools.cache
def may_run(*, owned: bool) -> Any:
    """The validation jobs worker ``:leaser`` (of owner ``:leaser_owner`` when
    ``owned``) may lease, as :func:`~swarmgen.core.verification.escalation.may_sit`
    allows: seats drawn for it, on a claim that is neither its own nor its owner's, nor
    a job its owner submitted, and whose panel neither it nor another key of its owner
    has sat on already (nor let a seat of expire). Built once per shape, the worker and
    owner bound at each call: the lease runs it on every pop, and building it (three
    aliases of the jobs table) cost more than running it."""
    c = t.jobs.c
    worker_id = bindparam("leaser", type_=String)
    owner_id = bindparam("leaser_owner", type_=String)
    sibling = t.jobs.alias("sibling")
    on_panel = exists().where(sibling.c.validates == c.validates, sibling.c.worker_id == worker_id)
    voted = exists().where(t.ballots.c.job_id == c.validates, t.ballots.c.validator_id == worker_id)
    m = t.missed_seats.c
    missed = exists().where(m.checked_job_id == c.validates, m.worker_id == worker_id)
    allowed = [
        c.assigned_worker == worker_id,
        c.exclude_worker != worker_id,
        not_(on_panel),
        not_(voted),
        not_(missed),
    ]
    if owned:
        allowed.append(or_(c.exclude_owner.is_(None), c.exclude_owner != owner_id))
        original = t.jobs.alias("original")  # nor a job its owner submitted
        allowed.append(
            not_(exists().where(original.c.id == c.validates, original.c.user_id == owner_id))
        )
        keys = select(t.workers.c.id).where(t.workers.c.owner_id == owner_id)
        kin, b = t.jobs.alias("kin"), t.ballots.c
        allowed += [  # nor any key of its owner on the panel: a panel counts owners
            not_(exists().where(kin.c.validates == c.validates, kin.c.worker_id.in_(keys))),
            not_(exists().where(b.job_id == c.validates, b.validator_id.in_(keys))),
            not_(exists().where(m.checked_job_id == c.validates, m.worker_id.in_(keys))),
        ]
    return and_(*allowed)


@functools.cache
def _seats_query(*, owned: bool) -> Select[str, str]:
    """The queued seats drawn for ``:leaser`` that :func:`may_run` lets it take, within
    ``:max_pixels``, best first, locked: found through ``ix_jobs_seats``. The lease keeps
    those of the offerings it serves: a list bound into this long statement (``IN``)
    cost more to expand at every call than the few rows drawn for one worker do to
    filter."""
    c = t.jobs.c
    return (
        select(c.id, c.validates, c.offering)
        .where(
            c.assigned_worker == bindparam("leaser"),  # only its own seats: ix_jobs_seats
            c.state == JobState.QUEUED.value,
            c.pixels <= bindparam("max_pixels"),
            c.validates.is_not(None),
            may_run(owned=owned),
        )
        .order_by(*ORDER)
        .with_for_update(skip_locked=True)
    )


_WORKERS_A_STATEMENT = 500
"""Most workers one statement of :meth:`DispatchRepository.seats_drawn_for` names."""
_KEY = bindparam("key", type_=BigInteger)
_AHEAD = select(func.count()).select_from(
    select(literal(1))
    .where(
        t.jobs.c.state == JobState.QUEUED.value,
        t.jobs.c.offering == bindparam("offering"),
        t.jobs.c.queue_key <= _KEY,  # implied; PostgreSQL estimates it (not the row) from stats
        tuple_(*ORDER)
        < tuple_(_KEY, bindparam("created", type_=BigInteger), bindparam("job_id", type_=String)),
    )
    .limit(POSITION_CAP)
    .subquery()
)
"""Queued jobs of ``:offering`` ahead of one (``:key``, ``:created``, ``:job_id``), up to
``POSITION_CAP``: a count over at most that much of the range of ``ix_jobs_queue``
before it, built once (every submit counts)."""

_IDS = bindparam("ids", type_=String, expanding=True)
_NOW = bindparam("now", type_=BigInteger)
_TAKE = (
    update(t.jobs)
    .where(t.jobs.c.id.in_(_IDS))
    .values(
        state=JobState.LEASED.value,
        worker_id=bindparam("leaser"),
        lease_expires_ms=_NOW + t.jobs.c.lease_ttl_s * 1000,
        leased_ms=_NOW,
        attempts=t.jobs.c.attempts + 1,
        updated_ms=_NOW,
    )
    .returning(*t.jobs.c)
)
"""A lease's flip of its jobs to ``leased`` by ``:leaser`` at ``:now`` (see :func:`_expiry`),
answering their rows as it leaves them (a round trip fewer than reading them again; the
``change_seq`` an ``AFTER`` trigger sets is not among them)."""
_REAPABLE = (
    select(t.jobs.c.id)
    .where(t.jobs.c.state == JobState.LEASED.value, t.jobs.c.lease_expires_ms < _NOW)
    .limit(1),
    select(t.jobs.c.id)
    .where(
        t.jobs.c.state == JobState.QUEUED.value,
        t.jobs.c.created_ms < bindparam("before", type_=BigInteger),
        t.jobs.c.validates.is_(None),
    )
    .limit(1),
)
"""A lease that expired (``ix_jobs_lease``), an ordinary job queued too long
(``ix_jobs_age``): one row of each at most, built once (the reaper asks every second)."""


def _one_seat_per_panel(rows: Iterable[Any]) -> list[str]:
    """The candidates' ids in order, keeping only the first seat of each claim's panel."""
    ids, panels = [], set()
    for row in rows:
        if row.validates is not None:
            if row.validates in panels:
                continue
            panels.add(row.validates)
        ids.append(row.id)
    return ids


def lock_in_order(conn: Connection, where: Any) -> list[str]:
    """Lock the jobs matching ``where`` in id order; returns their ids.

    Every transaction that locks several jobs locks them in this one order (a completion
    does too: :meth:`~swarmgen.store.jobs.JobRepository.complete`), so two that share
    jobs queue one behind the other rather than deadlock on PostgreSQL."""
    c = t.jobs.c
    return list(conn.execute(select(c.id).where(where).order_by(c.id).with_for_update()).scalars())


def flip(conn: Connection, where: Any, **values: Any) -> list[str]:
    """Lock the jobs matching ``where`` (in id order), set ``values`` on them; returns
    their ids."""
    ids = lock_in_order(conn, where)
    if ids:
        conn.execute(update(t.jobs).where(t.jobs.c.id.in_(ids)).values(**values))
    return ids


def requeue(conn: Connection, where: Any, now: int, **also: Any) -> list[str]:
    """Put the jobs matching ``where`` back in the queue at ``now``, unleased (and set
    ``also`` on them); returns their ids."""
    return flip(
        conn,
        where,
        state=JobState.QUEUED.value,
        worker_id=None,
        lease_expires_ms=None,
        updated_ms=now,
        **also,
    )


class DispatchRepository(Repository):
    @property
    def _sqlite(self) -> bool:
        return self.conn.dialect.name == "sqlite"

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
        """Lease up to ``limit`` queued jobs that fit the worker, in id order.

        The ordinary jobs due are the best fitting ones in the stored queue order
        (:data:`ORDER`: priority with aging, fixed at insert), as many as its
        :func:`~swarmgen.core.scheduling.fair_share` of them when ``sharing`` workers
        wait for them (counted without locking a row, along ``ix_jobs_queue``); the
        seats drawn for it are those :func:`may_run` allows (one per panel), found
        through ``ix_jobs_seats``; :func:`~swarmgen.core.scheduling.hand_out` decides,
        under ``turn`` and among ``sharing`` waiting workers, which of them go out.
        ``leased_ms`` is set to ``now``: the lease's hard end counts from it. Nothing
        here sorts more rows than it leases.
        """
        wanted = sorted(set(offerings))
        take = limit
        if sharing > 1:
            found = self._count_due(wanted, max_pixels, share_lookahead(limit, sharing))
            take = fair_share(found, limit, sharing)
        due = self._best(wanted, max_pixels, take)
        drawn: list[str] = []
        if seats:
            params = {"leaser": worker_id, "leaser_owner": owner_id, "max_pixels": max_pixels}
            found_seats = self.conn.execute(_seats_query(owned=owner_id is not None), params)
            served = [row for row in found_seats if row.offering in wanted]
            drawn = _one_seat_per_panel(served)[:limit]
        ids = hand_out(due, drawn, limit, turn, sharing)
        if not ids:
            return []
        rows = self.conn.execute(_TAKE, {"ids": ids, "leaser": worker_id, "now": now}).all()
        by_id = {row.id: JobRecord.from_row(row) for row in rows}
        return [by_id[i] for i in ids]

    def rekey(self, aging_per_s: int) -> int:
        """Key every job again by ``aging_per_s`` when the stored keys were made with
        another aging (the operator changed ``aging_points_per_s``); returns how many
        jobs were keyed again (0 when nothing changed, the usual case: one row read).

        Every job, not only queued ones: a leased job may be queued again, and a
        validation job copies the key of the job it checks. The aging the keys were made
        with is the ``queue_aging`` counter."""
        n = t.counters.c
        held = select(n.value).where(n.name == QUEUE_AGING).with_for_update()
        made_with = self.conn.execute(held).scalar_one_or_none()
        if made_with == aging_per_s:
            return 0
        c = t.jobs.c
        rows = self.conn.execute(select(c.id, c.priority, c.created_ms)).all()
        for start in range(0, len(rows), _CHUNK):
            self.conn.execute(
                update(t.jobs)
                .where(c.id == bindparam("job_id"))
                .values(queue_key=bindparam("key")),
                [
                    {"job_id": r.id, "key": queue_key(r.priority, r.created_ms, aging_per_s)}
                    for r in rows[start : start + _CHUNK]
                ],
            )
        if made_with is None:
            self.conn.execute(t.counters.insert().values(name=QUEUE_AGING, value=aging_per_s))
        else:
            self.conn.execute(
                update(t.counters).where(n.name == QUEUE_AGING).values(value=aging_per_s)
            )
        return len(rows)

    def may_validate(self, worker_id: str, owner_id: str | None, job_id: str) -> bool:
        """Whether :func:`may_run` lets ``worker_id`` lease job ``job_id`` (for tests and
        diagnostics; dispatch applies the same expression inside :meth:`lease`)."""
        c = t.jobs.c
        rule = or_(c.validates.is_(None), may_run(owned=owner_id is not None))
        query = select(c.id).where(c.id == bindparam("job_id"), rule)
        params = {"job_id": job_id, "leaser": worker_id, "leaser_owner": owner_id}
        return self.conn.execute(query, params).first() is not None

    def _count_due(self, offerings: Sequence[str], max_pixels: int, most: int) -> int:
        """How many ordinary jobs of ``offerings`` are due, counted up to ``most``
        without locking any: per offering, the head of its ``ix_jobs_queue`` range (read
        in queue order, so no planner walks the table's history looking for them)."""
        found = 0
        query = _count_query(self._sqlite)
        for offering in offerings:
            if found >= most:
                break
            params = {"offering": offering, "max_pixels": max_pixels, "most": most - found}
            found += self.conn.execute(query, params).scalar_one()
        return found

    def _best(self, offerings: Sequence[str], max_pixels: int, take: int) -> list[str]:
        """The ``take`` best ordinary jobs due of ``offerings``, locked, best first.

        One query per offering, each a range of ``ix_jobs_queue`` read in order and cut
        at ``take`` (an ``IN`` list would leave the database to merge the offerings'
        ranges by sorting them all); the merged best ``take`` of them are leased. On
        PostgreSQL the rows found but not taken stay locked until the lease commits.
        """
        if take <= 0:
            return []
        found: list[tuple[int, int, str]] = []
        query = _best_query(self._sqlite)
        for offering in offerings:
            params = {"offering": offering, "max_pixels": max_pixels, "most": take}
            found.extend(
                (key, created, job_id) for key, created, job_id in self.conn.execute(query, params)
            )
        return [job_id for *_, job_id in sorted(found)[:take]]

    def queue_position(self, job: JobRecord) -> int:
        """How many queued jobs of the same offering are ahead of ``job`` (0 = next), up
        to ``POSITION_CAP``: a count over the range of ``ix_jobs_queue`` before it."""
        params = {
            "offering": job.offering,
            "key": job.queue_key,
            "created": job.created_ms,
            "job_id": job.id,
        }
        return int(self.conn.execute(_AHEAD, params).scalar_one())

    def release(
        self,
        worker_id: str,
        job_ids: Sequence[str],
        now: int,
        *,
        error: str | None = None,
        max_attempts: int | None = None,
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
            return requeue(self.conn, held, now), []
        return self._requeue_or_fail(held, now, max_attempts, error)

    def extend(
        self, worker_id: str, job_ids: Sequence[str], now: int, max_factor: int = LEASE_MAX_FACTOR
    ) -> int:
        """Push the leases of jobs a live worker is still running out by their TTL, but
        never past their hard end (``leased_ms + max_factor × TTL``)."""
        c = t.jobs.c
        held = and_(
            c.id.in_(list(job_ids)), c.worker_id == worker_id, c.state == JobState.LEASED.value
        )
        ids = lock_in_order(self.conn, held)  # not in whatever order the UPDATE's plan takes
        if not ids:
            return 0
        return self.conn.execute(
            update(t.jobs)
            .where(c.id.in_(ids))
            .values(lease_expires_ms=_capped_expiry(now, max_factor))
        ).rowcount

    def due(self, offering: str, max_pixels: int, most: int) -> int:
        """How many ordinary jobs of ``offering`` within ``max_pixels`` are queued, up to
        ``most``: a range of ``ix_jobs_queue``, reading only, so the waiting room's re-check
        (:mod:`swarmgen.coordinator.rechecks`) queues for no writer."""
        params = {"offering": offering, "max_pixels": max_pixels, "most": most}
        return len(self.conn.execute(_due(self._sqlite), params).all())

    def seats_drawn_for(self, worker_ids: Iterable[str]) -> set[str]:
        """Which of ``worker_ids`` have a queued validation seat drawn for them: one probe
        of ``ix_jobs_seats`` per worker, in statements of at most :data:`_WORKERS_A_STATEMENT`
        workers."""
        c = t.jobs.c
        wanted = sorted(set(worker_ids))
        drawn: set[str] = set()
        for at in range(0, len(wanted), _WORKERS_A_STATEMENT):
            query = select(c.assigned_worker).where(
                c.assigned_worker.in_(wanted[at : at + _WORKERS_A_STATEMENT]),
                c.state == JobState.QUEUED.value,
            )
            drawn.update(self.conn.execute(query).scalars())
        return drawn

    def queued_in(self, offerings: Iterable[str]) -> set[str]:
        """Which of ``offerings`` have an ordinary job queued (one index probe each): a
        woken pop that leased nothing passes its wake-up on only for these."""
        c = t.jobs.c
        found: set[str] = set()
        for offering in sorted(set(offerings)):
            query = select(c.id).where(
                c.state == JobState.QUEUED.value, c.offering == offering, c.validates.is_(None)
            )
            if self.conn.execute(query.limit(1)).first() is not None:
                found.add(offering)
        return found

    def reap(self, now: int, max_attempts: int) -> tuple[list[str], list[str]]:
        """Queue jobs whose lease expired again; fail those out of attempts.

        Returns ``(requeued_ids, failed_ids)``.
        """
        c = t.jobs.c
        expired = and_(c.state == JobState.LEASED.value, c.lease_expires_ms < now)
        return self._requeue_or_fail(expired, now, max_attempts, "lease expired too often")

    def expire(self, submitted_before: int, now: int, error: str) -> list[str]:
        """Fail the ordinary jobs still queued that were submitted before
        ``submitted_before`` (walks ``ix_jobs_age``); returns their ids. A validation seat
        never expires this way: its panel's rules redraw or settle it."""
        c = t.jobs.c
        stale = and_(
            c.state == JobState.QUEUED.value,
            c.created_ms < submitted_before,
            c.validates.is_(None),
        )
        return flip(self.conn, stale, state=JobState.FAILED.value, updated_ms=now, error=error)

    def reapable(self, now: int, submitted_before: int) -> bool:
        """Whether :meth:`reap` or :meth:`expire` (with these times) would find a job:
        the head of ``ix_jobs_lease`` and of ``ix_jobs_age``, one row each at most."""
        params = {"now": now, "before": submitted_before}
        return any(self.conn.execute(probe, params).first() for probe in _REAPABLE)

    def _requeue_or_fail(
        self, where: Any, now: int, max_attempts: int, error: str
    ) -> tuple[list[str], list[str]]:
        c = t.jobs.c
        ids = lock_in_order(self.conn, where)  # all at once, in id order
        if not ids:  # the reaper's usual second: nothing expired
            return [], []
        held = c.id.in_(ids)
        failed = flip(
            self.conn,
            and_(held, c.attempts >= max_attempts),
            state=JobState.FAILED.value,
            updated_ms=now,
            lease_expires_ms=None,
            error=error,
        )
        return requeue(self.conn, and_(held, c.attempts < max_attempts), now), failed

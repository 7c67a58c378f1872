"""Read-only tallies for the public network view and the metrics: counts, never rows.

Every query here answers a question a page or a scrape asks (how many jobs wait per
offering, how long recent ones took, what a worker did up to a published epoch). None
writes, and none tells an ordinary job from a validation job: both count alike, which
is what keeps the view from revealing which jobs are checks (decision record 0016).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import and_, func, select

from swarmgen.core.jobs import JobState
from swarmgen.store import schema as t
from swarmgen.store.base import Repository
from swarmgen.store.records import WorkerRecord


class NetworkRepository(Repository):
    def jobs_by_state(self) -> dict[tuple[str, str], int]:
        """``(offering, state)`` -> how many jobs are in that state, for every pair seen."""
        c = t.jobs.c
        rows = self.conn.execute(
            select(c.offering, c.state, func.count()).group_by(c.offering, c.state)
        ).all()
        return {(row[0], row[1]): int(row[2]) for row in rows}

    def completed_since(self, since_ms: int, until_ms: int | None = None) -> dict[str, list[int]]:
        """Offering -> milliseconds from submission to completion of each job completed
        at or after ``since_ms`` (and before ``until_ms``, if given), shortest first."""
        c = t.jobs.c
        when = [c.state == JobState.COMPLETED.value, c.updated_ms >= since_ms]
        if until_ms is not None:
            when.append(c.updated_ms < until_ms)
        rows = self.conn.execute(
            select(c.offering, c.updated_ms - c.created_ms)
            .where(*when)
            .order_by(c.offering, c.updated_ms - c.created_ms)
        ).all()
        out: dict[str, list[int]] = {}
        for offering, took in rows:
            out.setdefault(offering, []).append(int(took))
        return out

    def completions_by_bucket(self, since_ms: int, bucket_ms: int) -> dict[int, int]:
        """Bucket -> jobs completed in it, for jobs completed at or after ``since_ms``;
        bucket ``i`` spans ``[since_ms + i * bucket_ms, since_ms + (i + 1) * bucket_ms)``.
        Buckets without a completion are absent."""
        c = t.jobs.c
        bucket = ((c.updated_ms - since_ms) // bucket_ms).label("bucket")
        rows = self.conn.execute(
            select(bucket, func.count())
            .where(c.state == JobState.COMPLETED.value, c.updated_ms >= since_ms)
            .group_by(bucket)
        ).all()
        return {int(row[0]): int(row[1]) for row in rows}

    def workers(self, limit: int, after: str | None = None) -> list[WorkerRecord]:
        """Registered workers ordered by id, ``limit`` of them after ``after``."""
        c = t.workers.c
        query = select(t.workers).order_by(c.id).limit(limit)
        if after is not None:
            query = query.where(c.id > after)
        return [WorkerRecord(**row._mapping) for row in self.conn.execute(query).all()]

    def jobs_done(self, worker_ids: Iterable[str], before_ms: int) -> dict[str, int]:
        """Worker -> jobs it completed before ``before_ms`` (workers with none are absent)."""
        ids = sorted(set(worker_ids))
        if not ids:
            return {}
        c = t.jobs.c
        rows = self.conn.execute(
            select(c.worker_id, func.count())
            .where(
                c.worker_id.in_(ids),
                c.state == JobState.COMPLETED.value,
                c.updated_ms < before_ms,
            )
            .group_by(c.worker_id)
        ).all()
        return {row[0]: int(row[1]) for row in rows}

    def check_counts(self, worker_id: str, upto_epoch: int) -> dict[str, int]:
        """Status -> checks of ``worker_id``'s jobs decided in epochs up to ``upto_epoch``."""
        c = t.checks.c
        rows = self.conn.execute(
            select(c.status, func.count())
            .where(c.worker_id == worker_id, c.decided_epoch <= upto_epoch)
            .group_by(c.status)
        ).all()
        return {row[0]: int(row[1]) for row in rows}

    def check_statuses(self) -> dict[str, int]:
        """Status -> how many checks stand there (every check, for the metrics)."""
        c = t.checks.c
        rows = self.conn.execute(select(c.status, func.count()).group_by(c.status)).all()
        return {row[0]: int(row[1]) for row in rows}

    def verdicts_of(self, worker_id: str, upto_epoch: int) -> list[tuple[int, bool]]:
        """``(epoch, invalid)`` of each verdict on ``worker_id`` up to ``upto_epoch``."""
        c = t.verdicts.c
        rows = self.conn.execute(
            select(c.epoch, c.invalid)
            .where(c.worker_id == worker_id, c.epoch <= upto_epoch)
            .order_by(c.epoch)
        ).all()
        return [(int(row.epoch), bool(row.invalid)) for row in rows]

    def verdict_counts(self) -> dict[bool, int]:
        """Invalid flag -> how many verdicts carry it (for the metrics)."""
        c = t.verdicts.c
        rows = self.conn.execute(select(c.invalid, func.count()).group_by(c.invalid)).all()
        return {bool(row[0]): int(row[1]) for row in rows}

    def flows(self, account: str, upto_epoch: int) -> list[tuple[int, str, int]]:
        """``(epoch, entry kind, net amount)`` into ``account`` per epoch up to ``upto_epoch``:
        credits count positive, debits negative; kinds that net to nothing are left out."""
        c = t.ledger_entries.c
        signed = func.sum(c.amount)
        credited = self.conn.execute(
            select(c.epoch, c.kind, signed)
            .where(c.credit == account, c.epoch <= upto_epoch)
            .group_by(c.epoch, c.kind)
        ).all()
        debited = self.conn.execute(
            select(c.epoch, c.kind, signed)
            .where(c.debit == account, c.epoch <= upto_epoch)
            .group_by(c.epoch, c.kind)
        ).all()
        net: dict[tuple[int, str], int] = {}
        for row in credited:
            net[(int(row[0]), row[1])] = net.get((int(row[0]), row[1]), 0) + int(row[2])
        for row in debited:
            net[(int(row[0]), row[1])] = net.get((int(row[0]), row[1]), 0) - int(row[2])
        return [(epoch, kind, amount) for (epoch, kind), amount in sorted(net.items()) if amount]

    def epoch_closed_ms(self, epoch: int) -> int | None:
        """When ``epoch`` closed (``None`` while open or unknown)."""
        c = t.epochs.c
        row = self.conn.execute(select(c.closed_ms).where(and_(c.epoch == epoch))).first()
        return None if row is None or row.closed_ms is None else int(row.closed_ms)

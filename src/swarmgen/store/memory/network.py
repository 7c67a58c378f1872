"""The network view's tallies in memory (see :mod:`swarmgen.store.network`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from swarmgen.core.jobs import JobState
from swarmgen.store.memory.tables import Tables
from swarmgen.store.records import WorkerRecord


class MemoryNetwork:
    def __init__(self, tables: Tables) -> None:
        self.t = tables

    def jobs_by_state(self) -> dict[tuple[str, str], int]:
        return dict(Counter((job.offering, job.state.value) for job in self.t.jobs.values()))

    def completed_since(self, since_ms: int, until_ms: int | None = None) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for job in self.t.jobs.values():
            if (
                job.state is JobState.COMPLETED
                and job.updated_ms >= since_ms
                and (until_ms is None or job.updated_ms < until_ms)
            ):
                out.setdefault(job.offering, []).append(job.updated_ms - job.created_ms)
        return {offering: sorted(took) for offering, took in out.items()}

    def completions_by_bucket(self, since_ms: int, bucket_ms: int) -> dict[int, int]:
        return dict(
            Counter(
                (job.updated_ms - since_ms) // bucket_ms
                for job in self.t.jobs.values()
                if job.state is JobState.COMPLETED and job.updated_ms >= since_ms
            )
        )

    def workers(self, limit: int, after: str | None = None) -> list[WorkerRecord]:
        ids = sorted(i for i in self.t.workers if after is None or i > after)
        return [self.t.workers[i] for i in ids[:limit]]

    def jobs_done(self, worker_ids: Iterable[str], before_ms: int) -> dict[str, int]:
        wanted = set(worker_ids)
        return dict(
            Counter(
                job.worker_id
                for job in self.t.jobs.values()
                if job.worker_id in wanted
                and job.state is JobState.COMPLETED
                and job.updated_ms < before_ms
            )
        )

    def check_counts(self, worker_id: str, upto_epoch: int) -> dict[str, int]:
        return dict(
            Counter(
                check.status.value
                for check, _ in self.t.checks.values()
                if check.worker_id == worker_id
                and check.decided_epoch is not None
                and check.decided_epoch <= upto_epoch
            )
        )

    def check_statuses(self) -> dict[str, int]:
        return dict(Counter(check.status.value for check, _ in self.t.checks.values()))

    def verdicts_of(self, worker_id: str, upto_epoch: int) -> list[tuple[int, bool]]:
        return sorted(
            (epoch, invalid)
            for (epoch, worker), (invalid, _) in self.t.verdicts.items()
            if worker == worker_id and epoch <= upto_epoch
        )

    def verdict_counts(self) -> dict[bool, int]:
        return dict(Counter(invalid for invalid, _ in self.t.verdicts.values()))

    def flows(self, account: str, upto_epoch: int) -> list[tuple[int, str, int]]:
        net: Counter[tuple[int, str]] = Counter()
        for entry in self.t.entries:
            if entry.epoch > upto_epoch:
                continue
            posting = entry.posting
            if posting.credit == account:
                net[(entry.epoch, posting.kind.value)] += posting.amount
            if posting.debit == account:
                net[(entry.epoch, posting.kind.value)] -= posting.amount
        return [(epoch, kind, amount) for (epoch, kind), amount in sorted(net.items()) if amount]

    def epoch_closed_ms(self, epoch: int) -> int | None:
        row = self.t.epochs.get(epoch)
        return None if row is None else row.closed_ms

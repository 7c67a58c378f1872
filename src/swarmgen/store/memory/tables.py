"""The in-memory store's state: one dictionary per table, copied per transaction.

Records are frozen, so a transaction works on shallow copies of the containers and
either swaps them in when it commits or drops them when it rolls back.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field, fields, replace
from typing import Any

from swarmgen.core.jobs import JobState
from swarmgen.core.ledger import Entry
from swarmgen.store.records import (
    SYSTEM_USER,
    BallotRow,
    CheckRow,
    IdempotentRequest,
    JobRecord,
    KeyRecord,
    MissedSeat,
    OutboxRow,
    UserRecord,
    WorkerRecord,
)


@dataclass(frozen=True)
class EpochRow:
    opened_ms: int
    closed_ms: int | None = None
    seal: dict[str, Any] | None = None


@dataclass
class Tables:
    users: dict[str, UserRecord] = field(
        default_factory=lambda: {
            SYSTEM_USER: UserRecord(SYSTEM_USER, "swarmgen-system", "system", 0)
        }
    )
    keys: dict[str, tuple[KeyRecord, str]] = field(default_factory=dict)
    """Key id to the key and its hash."""
    workers: dict[str, WorkerRecord] = field(default_factory=dict)
    nonces: dict[tuple[str, str], int] = field(default_factory=dict)
    idempotency: dict[tuple[str, str], IdempotentRequest] = field(default_factory=dict)
    """``(user_id, key)`` to the submit made under that key."""
    jobs: dict[str, JobRecord] = field(default_factory=dict)
    seeds: dict[int, tuple[bytes, str]] = field(default_factory=dict)
    checks: dict[str, tuple[CheckRow, int]] = field(default_factory=dict)
    """Checked job id to the check and when it opened."""
    ballots: dict[str, list[BallotRow]] = field(default_factory=dict)
    """Checked job id to its ballots in arrival order."""
    reputations: dict[str, tuple[float, int]] = field(default_factory=dict)
    """Worker id to its reputation and clean epochs in a row."""
    verdicts: dict[tuple[int, str], tuple[bool, dict[str, Any]]] = field(default_factory=dict)
    entries: list[Entry] = field(default_factory=list)
    balances: dict[str, int] = field(default_factory=dict)
    epochs: dict[int, EpochRow] = field(default_factory=dict)
    missed_seats: list[MissedSeat] = field(default_factory=list)
    outbox: dict[str, OutboxRow] = field(default_factory=dict)
    job_changes: int = 0
    """The last change number given (the SQL ``counters`` row ``job_changes``)."""
    queue_aging: int = 100
    """The aging the jobs' queue keys were made with (the SQL ``counters`` row
    ``queue_aging``, which migration 0010 starts at the default, 100 points/s)."""

    def number_changes(self, before: dict[str, JobRecord]) -> None:
        """Number the jobs this transaction inserted or changed (state, payment or
        time) since ``before``, at its commit, as the SQL triggers do."""
        for job_id, job in self.jobs.items():
            old = before.get(job_id)
            if old is job:
                continue
            if old is not None and (old.state, old.payment, old.updated_ms) == (
                job.state,
                job.payment,
                job.updated_ms,
            ):
                continue
            self.job_changes += 1
            self.jobs[job_id] = replace(job, change_seq=self.job_changes)

    def requeue(self, ids: Iterable[str], now: int, **also: Any) -> list[str]:
        """Put jobs ``ids`` back in the queue at ``now``, unleased (and set ``also``);
        returns them, sorted."""
        done = sorted(ids)
        for job_id in done:
            self.jobs[job_id] = replace(
                self.jobs[job_id],
                state=JobState.QUEUED,
                worker_id=None,
                lease_expires_ms=None,
                updated_ms=now,
                **also,
            )
        return done

    def working_copy(self) -> Tables:
        """Copies of every container (the records in them are immutable and shared)."""
        copied = Tables(**{f.name: copy.copy(getattr(self, f.name)) for f in fields(self)})
        copied.ballots = {job_id: list(rows) for job_id, rows in self.ballots.items()}
        return copied

"""Rows as typed records: the values every repository takes and returns.

They carry no SQLAlchemy, so services and the store's port can name them without
importing the adapter.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any

from swarmgen.core.jobs import Job, JobState, Spec, spec_from_canonical
from swarmgen.core.offerings import Offering

SYSTEM_USER = "system"
"""The user that owns validation jobs (created by migration 0003; it pays nothing)."""


@dataclass(frozen=True)
class UserRecord:
    id: str
    name: str
    role: str
    created_ms: int


@dataclass(frozen=True)
class WorkerRecord:
    id: str
    owner_id: str | None
    name: str
    capabilities: dict[str, Any]
    registered_ms: int
    last_seen_ms: int


@dataclass(frozen=True)
class IdempotentRequest:
    """A submit made under an ``Idempotency-Key``: what it asked for and what it queued."""

    user_id: str
    key: str
    fingerprint: str
    job_ids: tuple[str, ...]
    created_ms: int


@dataclass(frozen=True)
class JobRecord:
    id: str
    user_id: str
    kind: str
    offering: str
    spec: dict[str, Any]
    input_digest: str
    pixels: int
    priority: int
    price: int
    lease_ttl_s: int
    state: JobState
    created_ms: int
    updated_ms: int
    queue_key: int
    """The job's place in its offering's queue, smaller first
    (:func:`~swarmgen.core.scheduling.queue_key` of its priority and creation time),
    fixed when it is queued and kept through every lease and requeue."""
    worker_id: str | None = None
    lease_expires_ms: int | None = None
    attempts: int = 0
    outputs: list[str] | None = None
    output_digest: str | None = None
    receipt: dict[str, Any] | None = None
    timings: dict[str, Any] | None = None
    error: str | None = None
    payment: str | None = None
    """State of the job's credits: reserved, pending, paid, refunded or forfeited."""
    validates: str | None = None
    """For a validation job, the id of the job it re-executes."""
    exclude_worker: str | None = None
    """A validation job is never leased to this worker (the claimant)..."""
    exclude_owner: str | None = None
    """...nor to a worker of this owner."""
    sampling_id: str | None = None
    """Text: the id that seeds sampling (:attr:`Job.sampling_id`); its validations share it."""
    sample_rate: float | None = None
    """An original job: the sampling rate its draw used."""
    sample_epoch: int | None = None
    """An original job: the epoch whose seed drew it (or not) for a check."""
    leased_ms: int | None = None
    """When the current lease began: heartbeats never extend a lease past
    ``leased_ms`` plus the hard maximum, and the coordinator times runs from it."""
    assigned_worker: str | None = None
    """A validation seat drawn for one worker: dispatch leases it to that worker only."""
    assigned_ms: int | None = None
    """When :attr:`assigned_worker` was drawn: a seat it has not taken by
    :func:`~swarmgen.core.verification.draw.take_deadline_ms` is missed and drawn again."""
    change_seq: int | None = None
    """The job's place in the change feed, numbered at commit in commit order (None
    before its first commit): every later change commits with a larger number."""

    @classmethod
    def from_row(cls, row: Any) -> JobRecord:
        """The record of a ``jobs`` row. A full row, the usual one, fills the record
        without ``__init__``, whose assignments one frozen field at a time were two
        thirds of the cost (about 10 of 15 µs here; a job's row is read several times
        on its way). Any other row goes through ``__init__``, which refuses it as ever."""
        record = object.__new__(cls)
        values = record.__dict__
        values.update(row._mapping)
        if values.keys() != _JOB_FIELDS:
            data = dict(row._mapping)
            data["state"] = JobState(data["state"])
            return cls(**data)
        values["state"] = JobState(values["state"])
        return record

    def evolve(self, **changes: Any) -> JobRecord:
        """A copy with ``changes`` to its fields, as :func:`dataclasses.replace` makes it
        but without ``__init__`` (see :meth:`from_row`): every job's record is copied as
        it is queued and as it completes."""
        if not changes.keys() <= _JOB_FIELDS:
            raise TypeError(f"JobRecord has no field {', '.join(changes.keys() - _JOB_FIELDS)}")
        record = object.__new__(JobRecord)
        record.__dict__.update(self.__dict__, **changes)
        return record

    def as_row(self) -> dict[str, Any]:
        row = dict(self.__dict__)
        row["state"] = self.state.value
        return row

    def parsed_spec(self) -> Spec:
        return spec_from_canonical(self.spec)

    def job(self) -> Job:
        """The job as a worker sees it."""
        return Job(
            id=self.id,
            offering=Offering.parse(self.offering),
            spec=self.parsed_spec(),
            sampling_id=self.sampling_id,
        )


_JOB_FIELDS = frozenset(f.name for f in fields(JobRecord))


@dataclass(frozen=True)
class KeyRecord:
    """An API key as stored: its id and display prefix, never the key itself."""

    id: str
    user_id: str
    prefix: str
    created_ms: int
    revoked_ms: int | None


@dataclass(frozen=True)
class Completion:
    """What a worker returned for one job: blob keys, digest, signed receipt, timings."""

    job_id: str
    outputs: list[str]
    output_digest: str
    receipt: dict[str, Any]
    timings: dict[str, Any]


def completed(
    job: JobRecord, result: Completion, now: int, payment: tuple[str, str] | None = None
) -> JobRecord:
    """``job`` completed with ``result`` at ``now``; with ``payment`` ``(held, then)``,
    its credits move from ``held`` to ``then`` in the same write (every store's rule)."""
    held, then = payment or (None, None)
    return job.evolve(
        state=JobState.COMPLETED,
        updated_ms=now,
        lease_expires_ms=None,
        payment=then if held is not None and job.payment == held else job.payment,
        outputs=result.outputs,
        output_digest=result.output_digest,
        receipt=result.receipt,
        timings=result.timings,
    )


@dataclass(frozen=True)
class ExpiredSeat:
    """A validation seat its worker missed: a lease that ran out (or was handed back),
    or a draw it did not take up in time, and that worker."""

    job_id: str
    validates: str
    worker_id: str
    leased: bool = True
    """False: the seat was drawn for ``worker_id`` and is still queued, never taken."""


@dataclass(frozen=True)
class MissedSeat:
    """A validation seat a worker let expire: a missed assignment, never a ballot."""

    job_id: str
    worker_id: str
    checked_job_id: str
    epoch: int
    recorded_ms: int


@dataclass(frozen=True)
class OpenEpoch:
    """The epoch that receives new entries, and when it opened."""

    epoch: int
    opened_ms: int


class CheckStatus(StrEnum):
    """Where the check of one sampled job stands."""

    PENDING = "pending"
    """Validators are still re-executing or more are needed."""
    UPHELD = "upheld"
    """The panel upheld the claim."""
    REJECTED = "rejected"
    """The panel rejected the claim: a failure of the claimant."""
    ABANDONED = "abandoned"
    """No panel could be seated before its second epoch closed; counted for no one."""


@dataclass(frozen=True)
class CheckRow:
    job_id: str
    worker_id: str
    offering: str
    epoch: int
    status: CheckStatus
    decided_epoch: int | None
    reason: str | None


@dataclass(frozen=True)
class BallotRow:
    job_id: str
    validator_id: str
    validation_job_id: str
    position: int
    vote: str
    reason: str
    detail: str
    distance: float | None
    epoch: int
    penalised: bool


@dataclass(frozen=True)
class OutboxRow:
    """Something the coordinator owes the chain, written in the transaction that made it.

    ``key`` names it once (``seal:12``): writing it twice is a no-op, and the poster
    checks the chain before sending, so nothing is posted twice.
    """

    key: str
    kind: str
    payload: dict[str, Any]
    created_ms: int
    attempts: int = 0
    posted_ms: int | None = None
    tx: str | None = None
    last_error: str | None = None

"""Rows as typed records."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from swarmgen.core.jobs import Job, JobState, Spec, spec_from_canonical
from swarmgen.core.offerings import Offering


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

    @classmethod
    def from_row(cls, row: Any) -> JobRecord:
        data = dict(row._mapping)
        data["state"] = JobState(data["state"])
        return cls(**data)

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

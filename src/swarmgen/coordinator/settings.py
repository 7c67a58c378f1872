"""Coordinator settings, built once in the entry point (env prefix ``SWARMGEN_``).

:class:`CoordinatorSettings` holds every knob; each service gets a small frozen slice of it
(:class:`JobSettings`, :class:`DispatchSettings`, :class:`CreditSettings`,
:class:`EpochSettings`), cut in the bootstrap, so what a service depends on is written in
its type and a test can build one without the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, is_dataclass
from pathlib import Path
from typing import Literal, Self

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from swarmgen.coordinator.notify import RECHECK_S
from swarmgen.coordinator.windows import PUBLIC_WINDOW_S
from swarmgen.core.leases import LEASE_MAX_FACTOR, MAX_FACTOR_LIMIT
from swarmgen.core.scheduling import MAX_AGING_POINTS_PER_S, QUEUE_TTL_S, SEAT_HOLD_S
from swarmgen.core.stake import MIN_STAKE
from swarmgen.core.verification.escalation import DRAWN_STAGES, EscalationPolicy
from swarmgen.core.verification.failures import VerificationError
from swarmgen.core.verification.reliability import MAX_MISSED_SEATS


class CoordinatorSettings(BaseSettings):
    """Every knob of a coordinator; each field can be set as ``SWARMGEN_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="SWARMGEN_", extra="ignore")

    data: Path = Field(Path("./swarmgen-data"), description="Data folder: database, blobs, keys.")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default is SQLite at DATA/swarmgen.db."
    )
    host: str = Field("127.0.0.1", description="Address the HTTP server listens on.")
    port: int = Field(8787, description="Port the HTTP server listens on.")
    registry: Path | None = Field(
        None, description="Model registry TOML; default is the one shipped with swarmgen."
    )
    lease_min_s: int = Field(15, ge=1, description="Shortest lease a job gets, in seconds.")
    max_attempts: int = Field(5, ge=1, description="Lease expiries before a job fails.")
    lease_max_factor: int = Field(
        LEASE_MAX_FACTOR,
        ge=1,
        le=MAX_FACTOR_LIMIT,
        description="Hard maximum of any lease, in multiples of the job's TTL: heartbeats "
        "never keep a job past it, so no key can hold a job (or a validation seat) for ever.",
    )
    max_missed_seats: int = Field(
        MAX_MISSED_SEATS,
        ge=0,
        description="Validation seats a worker may let expire in an epoch and still be "
        "offered seats; past it, only ordinary jobs until the epoch ends.",
    )
    queue_ttl_s: int = Field(
        QUEUE_TTL_S,
        ge=1,
        description="A job no worker has taken this many seconds after it was submitted "
        "expires: failed and refunded in full. A job never stays open longer (plus one "
        "lease), so no job holds its epoch back from the public ledger for ever.",
    )
    reap_interval_s: float = Field(1.0, gt=0, description="How often expired leases are reaped.")
    reap_timeout_s: float = Field(
        30.0, gt=0, description="Longest reaper pass; a longer one is skipped and retried."
    )
    pop_wait_max_s: float = Field(
        50.0,
        ge=0,
        description="Longest long-poll of a worker pop (under common 60 s proxy idle timeouts).",
    )
    pop_recheck_s: float = Field(
        RECHECK_S,
        gt=0,
        description="How often each process looks at the queue once for all its waiting "
        "pops, for what no wake-up named (a safety net: queue changes wake matching "
        "waiters at once).",
    )
    seat_hold_s: float = Field(
        SEAT_HOLD_S,
        ge=0,
        description="Mean time a worker stays idle while a validation seat drawn for it waits "
        "to take the place of an ordinary job (drawn afresh, exponential, each idle spell; "
        "0: seats go out at once); then the seat goes out on its own.",
    )
    public_window_s: int = Field(
        PUBLIC_WINDOW_S,
        ge=1,
        description="The public network view (stats, models, dashboard, Horde status) shows "
        "queue and throughput figures as of the start of the current window of this many "
        "seconds, never live (admin /metrics stays live).",
    )
    result_wait_max_s: float = Field(60.0, ge=0, description="Longest long-poll of a status.")
    result_recheck_s: float = Field(
        1.0,
        gt=0,
        description="How often each process reads, once for all its status long-polls, "
        "which of their jobs are final, for what no wake-up named (a safety net: a job's "
        "change wakes its long-polls at once).",
    )
    openai_wait_s: float = Field(
        600.0,
        ge=0,
        description="Longest an OpenAI-compatible request waits for its job before answering "
        "422 job_unfinished with the job's id (OpenAI's API has no job to poll).",
    )
    idempotency_window_s: int = Field(
        86_400,
        ge=1,
        description="How long an Idempotency-Key of a submit is remembered: a retry within it "
        "gets the jobs the first request queued, and pays nothing more.",
    )
    max_body_bytes: int = Field(64 * 1024, description="Largest requester request body.")
    max_worker_body_bytes: int = Field(
        32 * 1024 * 1024, description="Largest worker request body (results carry images)."
    )
    clock_skew_s: int = Field(60, description="Accepted skew of signed request timestamps.")
    epoch_length_s: int = Field(3600, ge=1, description="Length of an epoch in seconds.")
    epoch_check_s: float = Field(
        1.0, gt=0, description="How often the epoch closer looks for an epoch to close."
    )
    epoch_close_timeout_s: float = Field(
        300.0, gt=0, description="Longest epoch-closer pass; a longer one is skipped and retried."
    )
    leader_check_s: float = Field(
        1.0,
        gt=0,
        description="How often a server process checks, or tries to take, the leadership that "
        "runs once-per-deployment tasks (reaper, epoch closer).",
    )
    epoch_emission: int = Field(
        10_000_000, ge=0, description="Micro-credits minted to workers at each epoch close."
    )
    validator_fee_ppm: int = Field(
        50_000, ge=0, le=1_000_000, description="Share of each job's price (ppm) for validators."
    )
    stake_unlock_epochs: int = Field(
        2, ge=1, description="Epochs between asking for stake back and withdrawing it."
    )
    slash_ppm: int = Field(
        100_000, ge=0, le=1_000_000, description="Share of stake (ppm) an invalid worker loses."
    )
    panel_stages: tuple[int, ...] = Field(
        DRAWN_STAGES,
        description="Validation panel sizes, first stage first (JSON list): the first stage's "
        "seats are drawn at once, each further stage is drawn when the one before disagrees.",
    )
    min_stake: int = Field(
        MIN_STAKE,
        ge=0,
        description="Locked stake (micro-credits) a worker needs to be leased jobs and drawn "
        "for validation seats; an offering's min_stake in the registry overrides it.",
    )
    trusted_workers: bool = Field(
        False,
        description="Skip the start-up refusal of settings under which cheating pays (a "
        "private network whose workers are trusted, or a test). Checks still run.",
    )
    welcome_credits: int = Field(
        10_000_000, ge=0, description="Micro-credits granted once to every new user."
    )
    max_active_jobs: int = Field(
        256, ge=1, description="Most queued plus leased jobs per user (then 429)."
    )
    anonymous_key: str | None = Field(
        "0000000000", description="API key of the shared anonymous user; unset to refuse it."
    )
    anonymous_max_active_jobs: int = Field(
        2, ge=1, description="Most queued plus leased jobs of the anonymous user."
    )
    verify: bool = Field(
        True,
        description="Re-execute sampled jobs on other workers. Off only for a swarm of trusted "
        "workers (or to measure dispatch alone).",
    )
    aging_points_per_s: int = Field(
        100,
        ge=1,
        le=MAX_AGING_POINTS_PER_S,
        description="Priority points a queued job gains per second it waits. A job's place "
        "is stored when it is queued; a coordinator started with another value places every "
        "job again at start (all replicas must share one value).",
    )
    blob_store: Literal["files", "s3"] = Field(
        "files",
        description="Where result blobs live: the folder DATA/blobs (one host; small blobs "
        "packed in one SQLite file, larger ones a file each), or a bucket through the S3 API "
        "(replicas on several hosts; see the s3_* settings).",
    )
    s3_bucket: str | None = Field(None, description="Bucket of the blobs (blob_store=s3).")
    s3_prefix: str = Field("blobs", description="Folder of the blobs inside the bucket.")
    s3_endpoint_url: str | None = Field(
        None, description="S3 API endpoint (MinIO, moto …); unset for AWS itself."
    )
    s3_region: str | None = Field(None, description="Region of the bucket; default us-east-1.")
    result_redirect_s: int = Field(
        0,
        ge=0,
        le=7 * 86_400,
        description="With a bucket, answer a result download with a redirect to a presigned "
        "link valid this many seconds instead of relaying the bytes; 0 relays them.",
    )
    coordinator_key: Path | None = Field(
        None, description="Ed25519 key that signs epoch seals; default DATA/coordinator.key."
    )

    @model_validator(mode="after")
    def _bucket_named(self) -> Self:
        if self.blob_store == "s3" and not self.s3_bucket:
            raise ValueError("blob_store=s3 needs s3_bucket")
        return self

    @field_validator("panel_stages")
    @classmethod
    def _valid_stages(cls, stages: tuple[int, ...]) -> tuple[int, ...]:
        try:
            EscalationPolicy(stages)
        except VerificationError as exc:
            raise ValueError(exc.message) from None
        return stages

    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data / 'swarmgen.db'}"

    @property
    def blob_dir(self) -> Path:
        return self.data / "blobs"

    @property
    def key_path(self) -> Path:
        return self.coordinator_key or self.data / "coordinator.key"


class _Slice:
    """A service's slice of the settings: fields named as in :class:`CoordinatorSettings`."""

    @classmethod
    def of(cls, settings: CoordinatorSettings) -> Self:
        """The slice of ``settings`` this class names, read field by field."""
        assert is_dataclass(cls)
        return cls(**{f.name: getattr(settings, f.name) for f in fields(cls)})


@dataclass(frozen=True)
class JobSettings(_Slice):
    """What the job service (submit, view, wait) reads."""

    lease_min_s: int
    aging_points_per_s: int
    result_wait_max_s: float
    idempotency_window_s: int = 86_400
    result_redirect_s: int = 0


@dataclass(frozen=True)
class DispatchSettings(_Slice):
    """What the worker service (pop, submit) and the lease reaper read."""

    pop_wait_max_s: float
    validator_fee_ppm: int
    max_attempts: int
    clock_skew_s: int
    lease_max_factor: int = LEASE_MAX_FACTOR
    max_missed_seats: int = MAX_MISSED_SEATS
    min_stake: int = MIN_STAKE
    seat_hold_s: float = SEAT_HOLD_S
    queue_ttl_s: int = QUEUE_TTL_S


@dataclass(frozen=True)
class CreditSettings(_Slice):
    """What the credit service (priority, active-job caps) reads."""

    aging_points_per_s: int
    max_active_jobs: int
    anonymous_max_active_jobs: int


@dataclass(frozen=True)
class EpochSettings(_Slice):
    """What the epoch service (closing, settlement, stake) reads."""

    epoch_length_s: int
    epoch_emission: int
    validator_fee_ppm: int
    stake_unlock_epochs: int
    slash_ppm: int
    panel_stages: tuple[int, ...] = DRAWN_STAGES
    """The panel stages, so a panel is settled at a close under the stages it was drawn by."""

"""The public network view: offerings, workers and throughput (no credentials needed)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ModelOut(BaseModel):
    """One model offering as the network serves it now."""

    model: str = Field(description="The offering, name@precision.")
    name: str
    precision: str
    kind: str
    typical_job: dict[str, Any] = Field(description="The job the price is quoted for.")
    typical_price: int = Field(description="Micro-credits the typical job costs.")
    workers_online: int
    queued: int = Field(description="Jobs waiting for a worker.")
    running: int = Field(description="Jobs leased to a worker.")
    done_last_hour: int
    median_s: float | None = Field(description="Median seconds from submission to result.")
    verification: dict[str, Any] = Field(
        description="Measured figures of the offering's calibration (detection rate, "
        "false-positive bound, samples); calibrated is false when there are none."
    )
    tier: str = Field(
        description="How the tier is computed: library and version range, method and its "
        "parameters (group size, which layers it quantizes and keeps)."
    )
    footprint: int | None = Field(
        description="Measured peak memory in bytes of a worker serving this tier; a worker "
        "that declares less is not given its jobs (null: not measured)."
    )
    quality: dict[str, float] = Field(
        description="Measured quality against fp32 on fixed seeds and held-out prompts "
        "(images: psnr_db, ssim, phash_distance, color/background/count accuracy; text: "
        "top1_agreement, kl_top5, exact_match); empty when not measured."
    )


class ModelList(BaseModel):
    models: list[ModelOut]


class WorkerSummaryOut(BaseModel):
    id: str
    name: str
    models: list[str]
    online: bool
    last_seen_ms: int
    reputation: float
    jobs_done: int = Field(description="Jobs completed up to the last published epoch.")


class WorkerList(BaseModel):
    workers: list[WorkerSummaryOut]
    next_after: str | None = Field(description="Pass as after= for the next page.")


class EpochEarningsOut(BaseModel):
    epoch: int
    earned: int
    forfeited: int
    paid: int


class VerdictOut(BaseModel):
    epoch: int
    invalid: bool


class WorkerOut(WorkerSummaryOut):
    """A worker's public page; counts stop at the last published epoch."""

    owned: bool
    checks_passed: int
    checks_failed: int
    checks_abandoned: int
    verdicts: list[VerdictOut]
    earnings: list[EpochEarningsOut]
    stake_locked: int
    stake_unbonding: int
    published_epoch: int = Field(description="The last published epoch (-1: none yet).")


class StatsOut(BaseModel):
    epoch: int
    epoch_opened_ms: int | None
    epoch_length_s: int
    last_sealed: int
    published_epoch: int
    workers_online: int
    queued: int
    running: int
    done_last_hour: int
    done_last_minute: int
    jobs_per_minute: float

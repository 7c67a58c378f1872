"""Wire models: what requesters and workers send and get back.

Bounds come from :data:`swarmgen.core.jobs.LIMITS`, so each limit is written once;
a violation becomes a 422 naming the field, the reason and the limit.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from swarmgen.core.jobs import LIMITS, SEED_MAX

_strict = ConfigDict(extra="forbid")

Prompt = Annotated[str, Field(min_length=1, max_length=LIMITS.prompt_chars)]
Seed = Annotated[int, Field(ge=0, le=SEED_MAX)]
Side = Annotated[int, Field(ge=LIMITS.min_side, le=LIMITS.max_side)]


class ImageJobIn(BaseModel):
    """An image job: a prompt and diffusion settings."""

    model_config = _strict

    kind: Literal["image"] = "image"
    model: str = Field(description="Model offering, name@precision.", max_length=80)
    prompt: Prompt
    negative_prompt: str = Field("", max_length=LIMITS.prompt_chars)
    width: Side = 64
    height: Side = 64
    steps: int = Field(20, ge=1, le=LIMITS.max_steps)
    guidance: float = Field(7.5, ge=0.0, le=LIMITS.max_guidance, allow_inf_nan=False)
    seed: Seed | None = None
    n: int = Field(1, ge=1, le=LIMITS.max_images)

    @field_validator("width", "height")
    @classmethod
    def _multiple(cls, value: int) -> int:
        if value % LIMITS.side_multiple:
            raise ValueError(f"must be a multiple of {LIMITS.side_multiple}")
        return value


class MessageIn(BaseModel):
    model_config = _strict

    role: Literal["system", "user", "assistant"]
    content: str = Field(max_length=LIMITS.prompt_chars)


class TextJobIn(BaseModel):
    """A text job: chat messages or a bare prompt, and sampling settings."""

    model_config = _strict

    kind: Literal["text"] = "text"
    model: str = Field(description="Model offering, name@precision.", max_length=80)
    messages: list[MessageIn] | None = Field(None, min_length=1, max_length=LIMITS.max_messages)
    prompt: str | None = Field(None, min_length=1, max_length=LIMITS.prompt_chars)
    max_tokens: int = Field(64, ge=1, le=LIMITS.max_tokens)
    temperature: float = Field(0.0, ge=0.0, le=LIMITS.max_temperature, allow_inf_nan=False)
    top_p: float = Field(1.0, gt=0.0, le=1.0, allow_inf_nan=False)
    seed: Seed | None = None

    @model_validator(mode="after")
    def _one_input(self) -> TextJobIn:
        if (self.messages is None) == (self.prompt is None):
            raise ValueError("give exactly one of messages or prompt")
        return self


JobIn = Annotated[ImageJobIn | TextJobIn, Field(discriminator="kind")]


class JobAccepted(BaseModel):
    id: str
    state: str
    queue_position: int
    price: int
    payment: str
    seed: int


class JobBatchIn(BaseModel):
    """Several jobs queued together, all or none."""

    model_config = _strict

    jobs: list[JobIn] = Field(min_length=1, max_length=64)


class JobBatchAccepted(BaseModel):
    jobs: list[JobAccepted]


class JobView(BaseModel):
    """A job as its requester sees it."""

    id: str
    kind: str
    model: str
    state: str
    created_ms: int
    updated_ms: int
    seed: int | None
    price: int
    payment: str | None = Field(
        None, description="reserved, pending, paid, refunded or forfeited (see the ledger)."
    )
    queue_position: int | None = None
    worker_id: str | None = None
    seconds: float | None = None
    outputs: int = 0
    result_url: str | None = None
    error: str | None = None


class JobList(BaseModel):
    jobs: list[JobView]


# workers --------------------------------------------------------------------------


class CapabilitiesIn(BaseModel):
    model_config = _strict

    models: list[str] = Field(min_length=1, max_length=32, description="name@precision each.")
    max_pixels: int = Field(512 * 512, ge=1, le=LIMITS.max_side * LIMITS.max_side)
    max_batch: int = Field(1, ge=1, le=64)


class RegisterIn(BaseModel):
    model_config = _strict

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    capabilities: CapabilitiesIn


class RegisterOut(BaseModel):
    worker_id: str
    owner_id: str | None
    models: list[str]


class PopIn(BaseModel):
    model_config = _strict

    wait_s: float = Field(0.0, ge=0.0, le=60.0, allow_inf_nan=False)
    max_jobs: int | None = Field(None, ge=1, le=64)


class Assignment(BaseModel):
    job_id: str
    model: str
    spec: dict[str, Any]
    input_digest: str
    lease_expires_ms: int
    sampling_id: str | None = Field(
        None, description="Text: seeds the sampler with the job's seed (text_sampling_seed)"
    )


class PopOut(BaseModel):
    jobs: list[Assignment]


class ReceiptIn(BaseModel):
    """A worker's signed statement of what it ran and produced."""

    model_config = _strict

    job_id: str = Field(max_length=64)
    worker_id: str = Field(max_length=64)
    input_digest: str = Field(pattern=r"^[0-9a-f]{64}$")
    output_digest: str = Field(pattern=r"^[0-9a-f]{64}$")
    artifact_digest: str = Field(pattern=r"^[0-9a-f]{64}$")
    timings: dict[str, int] = Field(max_length=16)
    nonce: str = Field(min_length=8, max_length=64)
    signature: str = Field(max_length=128)


class ResultIn(BaseModel):
    model_config = _strict

    job_id: str = Field(max_length=64)
    images: list[str] | None = Field(None, max_length=LIMITS.max_images, description="base64 PNG")
    text: dict[str, Any] | None = Field(None, description="canonical TextOutput")
    receipt: ReceiptIn


class SubmitIn(BaseModel):
    model_config = _strict

    results: list[ResultIn] = Field(min_length=1, max_length=64)


class Rejected(BaseModel):
    job_id: str
    code: str
    message: str


class SubmitOut(BaseModel):
    accepted: list[str]
    rejected: list[Rejected]


class HeartbeatIn(BaseModel):
    model_config = _strict

    job_ids: list[str] = Field(default_factory=list, max_length=64)


class ReleaseIn(BaseModel):
    model_config = _strict

    job_ids: list[str] = Field(min_length=1, max_length=64)
    error: str | None = Field(
        None, max_length=500, description="Why the worker could not run them (counts a try)."
    )


class Ack(BaseModel):
    ok: bool = True
    count: int = 0


# credits ----------------------------------------------------------------------------


class QuoteOut(BaseModel):
    """What a job would cost, in micro-credits; nothing is queued or reserved."""

    model: str
    price: int
    work_units: int = Field(description="Pixel-steps for images, tokens for text.")
    multiplier: int
    balance: int
    shortfall: int = Field(description="How much the balance lacks (0 when it covers the price).")


class BalanceOut(BaseModel):
    user_id: str
    account: str
    balance: int = Field(description="Spendable micro-credits.")
    reserved: int = Field(description="Micro-credits held in escrow for your active jobs.")
    epoch: int


class EntryOut(BaseModel):
    """One ledger entry, as exported."""

    seq: int
    epoch: int
    kind: str
    debit: str
    credit: str
    amount: int
    job_id: str | None
    memo: dict[str, Any]
    receipt: dict[str, Any] | None
    prev_hash: str
    hash: str


class EntriesOut(BaseModel):
    entries: list[EntryOut]
    next_before: int | None = Field(
        None, description="Pass as before= to get the next (older) page; null at the end."
    )


class TransferIn(BaseModel):
    model_config = _strict

    to: str = Field(min_length=1, max_length=64, description="Recipient user name.")
    amount: int = Field(gt=0, le=2**62, description="Micro-credits.")


class GrantIn(BaseModel):
    model_config = _strict

    user: str = Field(min_length=1, max_length=64, description="User name.")
    amount: int = Field(gt=0, le=2**62, description="Micro-credits to mint.")
    reason: str = Field("grant", min_length=1, max_length=64)


class StakeIn(BaseModel):
    model_config = _strict

    amount: int = Field(gt=0, le=2**62, description="Micro-credits.")


class StakeOut(BaseModel):
    worker_id: str
    locked: int
    unbonding: int
    unlock_epoch: int | None = Field(description="First epoch the unbonding stake may leave.")
    epoch: int

"""Requester messages: jobs in, their acceptance, views, lists and quotes out."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from swarmgen.core.jobs import LIMITS, SEED_MAX
from swarmgen.core.scheduling import POSITION_CAP
from swarmgen.protocol.bounds import PLAIN, STRICT

Prompt = Annotated[str, Field(min_length=1, max_length=LIMITS.prompt_chars, pattern=PLAIN)]
Seed = Annotated[int, Field(ge=0, le=SEED_MAX)]
Side = Annotated[int, Field(ge=LIMITS.min_side, le=LIMITS.max_side)]
Model = Annotated[
    str, Field(description="Model offering, name@precision.", max_length=80, pattern=PLAIN)
]

MAX_BATCH = 64
"""Most jobs in one batch submit."""

MAX_LIST = 500
"""Most jobs one list answers."""


class ImageJobIn(BaseModel):
    """An image job: a prompt and diffusion settings."""

    model_config = STRICT

    kind: Literal["image"] = "image"
    model: Model
    prompt: Prompt
    negative_prompt: str = Field("", max_length=LIMITS.prompt_chars, pattern=PLAIN)
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
    model_config = STRICT

    role: Literal["system", "user", "assistant"]
    content: str = Field(max_length=LIMITS.prompt_chars, pattern=PLAIN)


class TextJobIn(BaseModel):
    """A text job: chat messages or a bare prompt, and sampling settings."""

    model_config = STRICT

    kind: Literal["text"] = "text"
    model: Model
    messages: list[MessageIn] | None = Field(None, min_length=1, max_length=LIMITS.max_messages)
    prompt: Prompt | None = None
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
    queue_position: int | None = Field(
        description=f"Queued jobs of the same model ahead of this one (0: next), counted up "
        f"to {POSITION_CAP}: {POSITION_CAP} means that many or more. None once the job has "
        "left the queue (a submit retried under its Idempotency-Key after the job was "
        "leased or finished)."
    )
    price: int
    payment: str
    seed: int


class JobBatchIn(BaseModel):
    """Several jobs queued together, all or none."""

    model_config = STRICT

    jobs: list[JobIn] = Field(min_length=1, max_length=MAX_BATCH)


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
    queue_position: int | None = Field(
        None,
        description=f"While queued: queued jobs of the same model ahead of this one (0: "
        f"next), counted up to {POSITION_CAP}: {POSITION_CAP} means that many or more.",
    )
    worker_id: str | None = None
    seconds: float | None = None
    outputs: int = 0
    result_url: str | None = None
    error: str | None = None
    change_seq: int | None = Field(
        None,
        description="The job's place in the change feed: numbered when a change commits, "
        "in commit order. Pass the largest you have seen as ``changed_after``.",
    )


class JobList(BaseModel):
    jobs: list[JobView]


class QuoteOut(BaseModel):
    """What a job would cost, in micro-credits; nothing is queued or reserved."""

    model: str
    price: int
    work_units: int = Field(description="Pixel-steps for images, tokens for text.")
    multiplier: float = Field(description="The offering's price multiplier (fp32 tiers: 1).")
    balance: int
    shortfall: int = Field(description="How much the balance lacks (0 when it covers the price).")

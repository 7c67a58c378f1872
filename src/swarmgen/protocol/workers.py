"""Worker messages: registration, pop and its assignments, results, heartbeats, release.

Every worker request is signed over its exact body bytes, so the worker serialises
these models once (``model_dump_json``) and signs what it sends.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import BaseModel, Field, field_validator
from pydantic_core import PydanticCustomError

from swarmgen.core.jobs import LIMITS
from swarmgen.protocol.bounds import INT64_MAX, PLAIN, SAFE_INT, STRICT, Millis

MAX_JOBS = 64
"""Most jobs one pop or submit names."""
MAX_HELD = 4 * MAX_JOBS
"""Most jobs one heartbeat or release names: a worker holds a pop's jobs while one
submission is on its way and up to two earlier batches wait to be sent
(:mod:`swarmgen.worker.uploads`), each at most a pop's worth, so every job it may hold
fits in one."""

Short = Annotated[str, Field(max_length=64, pattern=PLAIN)]
Digest = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Timing = Annotated[int, Field(ge=0, le=SAFE_INT)]


class CapabilitiesIn(BaseModel):
    model_config = STRICT

    models: list[Annotated[str, Field(max_length=80, pattern=PLAIN)]] = Field(
        min_length=1, max_length=32, description="name@precision each."
    )
    max_pixels: int = Field(512 * 512, ge=1, le=LIMITS.max_side * LIMITS.max_side)
    max_batch: int = Field(1, ge=1, le=MAX_JOBS)
    memory: int | None = Field(
        None,
        ge=1,
        le=SAFE_INT,
        description="Bytes of memory the worker gives its models; the coordinator leases "
        "it no job of an offering whose measured footprint is larger (absent: not declared).",
    )


class RegisterIn(BaseModel):
    model_config = STRICT

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    capabilities: CapabilitiesIn


class RegisterOut(BaseModel):
    worker_id: str
    owner_id: str | None
    models: list[str]


class PopIn(BaseModel):
    model_config = STRICT

    wait_s: float = Field(0.0, ge=0.0, le=60.0, allow_inf_nan=False)
    max_jobs: int | None = Field(None, ge=1, le=MAX_JOBS)


class Assignment(BaseModel):
    """One leased job; a validation seat looks exactly the same."""

    job_id: str
    model: str
    spec: dict[str, Any]
    input_digest: str
    lease_expires_ms: Millis
    sampling_id: str | None = Field(
        None, description="Text: seeds the sampler with the job's seed (text_sampling_seed)"
    )


class PopOut(BaseModel):
    jobs: list[Assignment]


class ReceiptIn(BaseModel):
    """A worker's signed statement of what it ran and produced."""

    model_config = STRICT

    job_id: Short
    worker_id: Short
    input_digest: Digest
    output_digest: Digest
    artifact_digest: Digest
    timings: dict[str, Timing] = Field(max_length=16)
    nonce: str = Field(min_length=8, max_length=64, pattern=PLAIN)
    signature: str = Field(max_length=128, pattern=PLAIN)


def _bounded(value: Any) -> bool:
    """Whether every number in a JSON value is finite and fits a signed 64-bit column.

    A walk with a stack of its own, deciding by exact type: about a fifth of the time
    of the recursive walk with ``isinstance`` on a short text output (its logprobs are
    nested lists of integers). JSON parsed by pydantic holds the built-in types only; a
    subclass of one is judged as the built-in it is."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is int:
            if not -INT64_MAX <= item <= INT64_MAX:
                return False
        elif kind is list or kind is tuple:
            stack.extend(item)
        elif kind is dict:
            stack.extend(item.values())
        elif kind is float:
            if not (math.isfinite(item) and -INT64_MAX <= item <= INT64_MAX):
                return False
        elif kind not in _NUMBERLESS:
            stack.append(_as_builtin(item))
    return True


_NUMBERLESS = frozenset({str, bool, type(None)})
_BUILTINS: tuple[type[Any], ...] = (int, float, str, dict, list, tuple)


def _as_builtin(item: Any) -> Any:
    """``item`` as the built-in JSON kind it is a subclass of; ``None`` if none."""
    for kind in _BUILTINS:
        if isinstance(item, kind):
            return kind(item)
    return None


class ResultIn(BaseModel):
    model_config = STRICT

    job_id: Short
    images: list[str] | None = Field(None, max_length=LIMITS.max_images, description="base64 PNG")
    text: dict[str, Any] | None = Field(None, description="canonical TextOutput")
    receipt: ReceiptIn

    @field_validator("text")
    @classmethod
    def _text_integers(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        """The text output's shape is the service's to check; its integers are bounded
        here, as every integer a client sends is (token ids, scaled logprobs, counts)."""
        if value is not None and not _bounded(value):
            raise PydanticCustomError(
                "number_bound", "numbers must be finite, within -{le} and {le}", {"le": INT64_MAX}
            )
        return value


class SubmitIn(BaseModel):
    model_config = STRICT

    results: list[ResultIn] = Field(min_length=1, max_length=MAX_JOBS)


class Rejected(BaseModel):
    job_id: str
    code: str
    message: str


class SubmitOut(BaseModel):
    accepted: list[str]
    rejected: list[Rejected]


class HeartbeatIn(BaseModel):
    model_config = STRICT

    job_ids: list[Short] = Field(default_factory=list, max_length=MAX_HELD)


class ReleaseIn(BaseModel):
    model_config = STRICT

    job_ids: list[Short] = Field(min_length=1, max_length=MAX_HELD)
    error: str | None = Field(
        None,
        max_length=500,
        pattern=PLAIN,
        description="Why the worker could not run them (counts a try).",
    )


class Ack(BaseModel):
    ok: bool = True
    count: int = 0


class EmptyIn(BaseModel):
    """A signed request that carries nothing but its signature (stake status, withdraw)."""

    model_config = STRICT

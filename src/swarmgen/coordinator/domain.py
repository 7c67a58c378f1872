"""The services' own vocabulary: what a face hands to a service and what it gets back.

Services speak in these frozen dataclasses, core types and store records, never in a
face's wire models, so the native ``/api/v1`` face and any sibling (OpenAI, AI Horde,
a dashboard) call the same services and each renders the answers its own way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from swarmgen.core.jobs import Spec
from swarmgen.core.receipts import Receipt
from swarmgen.errors import SwarmgenError

# requesters --------------------------------------------------------------------------


@dataclass(frozen=True)
class JobRequest:
    """A job as asked for: an offering's name and a spec whose seed may be unset.

    The service resolves the offering against the registry and fixes the seed.
    """

    model: str
    spec: Spec


@dataclass(frozen=True)
class Accepted:
    """A queued job: where it stands in the queue, what was reserved, its fixed seed."""

    id: str
    state: str
    queue_position: int | None
    """None once the job has left the queue (a retried submit answered again later)."""
    price: int
    payment: str
    seed: int


@dataclass(frozen=True)
class Quote:
    """What a job would cost and how far the balance falls short (nothing queued)."""

    model: str
    price: int
    work_units: int
    multiplier: float
    """The offering's price multiplier (shown, never computed with: prices are integers)."""
    balance: int
    shortfall: int


@dataclass(frozen=True)
class JobStatus:
    """A job as its requester sees it; ``has_result`` tells a face to link the result."""

    id: str
    kind: str
    model: str
    state: str
    created_ms: int
    updated_ms: int
    seed: int | None
    price: int
    payment: str | None
    queue_position: int | None
    worker_id: str | None
    seconds: float | None
    outputs: int
    has_result: bool
    error: str | None
    change_seq: int | None


@dataclass(frozen=True)
class Account:
    """A requester's credits: spendable, held in escrow, and the open epoch."""

    user_id: str
    account: str
    balance: int
    reserved: int
    epoch: int


# workers -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Capabilities:
    """What a worker declares it can run."""

    models: tuple[str, ...]
    max_pixels: int
    max_batch: int
    memory: int | None = None
    """Bytes of memory for models; ``None``: not declared."""


@dataclass(frozen=True)
class Registration:
    worker_id: str
    owner_id: str | None
    models: tuple[str, ...]


@dataclass(frozen=True)
class Submission:
    """One result as a worker sent it: outputs still encoded, receipt parsed."""

    job_id: str
    receipt: Receipt
    images: tuple[str, ...] | None = None
    """Base64 PNGs (image jobs)."""
    text: dict[str, Any] | None = None
    """A canonical :class:`~swarmgen.core.outputs.TextOutput` (text jobs)."""


@dataclass(frozen=True)
class SubmitOutcome:
    """Which results were accepted, and why each other one was rejected."""

    accepted: tuple[str, ...]
    rejected: tuple[tuple[str, SwarmgenError], ...]

"""The model-backend port."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from swarmgen.core.jobs import Job
from swarmgen.core.offerings import Kind, Offering
from swarmgen.core.outputs import Output
from swarmgen.errors import SwarmgenError


class Backend(Protocol):
    """Runs jobs for one model offering on this machine."""

    offering: Offering
    max_batch: int
    """Most jobs :meth:`run` takes at once."""

    def load(self) -> None:
        """Load weights; idempotent. Called once before the first :meth:`run`."""

    def run(self, jobs: Sequence[Job]) -> list[Output]:
        """Run a batch of jobs for :attr:`offering`; one output per job, in order."""
        ...


TopLogprobs = tuple[tuple[tuple[int, float], ...], ...]
"""Per generated position, ``(token_id, logprob)`` pairs, most likely first."""


class TextScorer(Protocol):
    """A text model that can score given tokens without generating them.

    Validators do not use it (they generate, blinded); the pre-fill cheat does, and
    measurements use it to read the real model's view of someone else's tokens.
    """

    def score(self, job: Job, token_ids: Sequence[int]) -> TopLogprobs:
        """Top-k logprobs at each given position, from one teacher-forced pass."""
        ...


class BackendError(SwarmgenError):
    """A backend cannot run: bad source, unsupported precision or a job it does not serve."""

    code = "backend_error"


class ModelUnavailable(BackendError):
    """The model's weights cannot be found or built on this machine."""

    code = "model_unavailable"
    status = 503


def check_jobs(offering: Offering, kind: Kind, jobs: Sequence[Job], max_batch: int) -> None:
    """Refuse a batch a backend does not serve: wrong offering or kind, or too many jobs."""
    if len(jobs) > max_batch:
        raise BackendError(f"batch of {len(jobs)} jobs exceeds max_batch {max_batch}")
    for job in jobs:
        if job.offering != offering:
            raise BackendError(f"job {job.id} is for {job.offering}, this backend runs {offering}")
        if job.kind != kind:
            raise BackendError(f"job {job.id} is a {job.kind} job, this backend makes {kind}")


def seed_of(job: Job) -> int:
    """The job's seed, which the coordinator always fixes before a job reaches a worker."""
    if job.spec.seed is None:
        raise BackendError(f"job {job.id} has no seed")
    return job.spec.seed

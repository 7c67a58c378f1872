"""Scheduling decisions: which queued job fits a worker, in what order, under what lease.

The store's SQL query mirrors :func:`fits` and :func:`order_key` (offering in the
worker's list, pixels within its limit, priority first then age); the in-memory fake
and the tests use these functions directly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from swarmgen.core.jobs import Spec
from swarmgen.core.modalities.base import modality_of
from swarmgen.core.offerings import Offering

LEASE_MIN_S = 15
"""Shortest lease, whatever the job size: covers a round trip and a slow start."""
LEASE_MAX_S = 900
"""Longest lease: a job that needs more is too big for one worker call."""
MAX_ATTEMPTS = 5
"""Lease expiries after which a job fails instead of going back to the queue."""


@dataclass(frozen=True)
class Capabilities:
    """What a worker declared it can run."""

    offerings: frozenset[Offering]
    max_pixels: int
    max_batch: int


@dataclass(frozen=True)
class QueuedJob:
    """The scheduling-relevant view of a queued job."""

    id: str
    offering: Offering
    pixels: int
    priority: int
    created_ms: int


def fits(job: QueuedJob, caps: Capabilities) -> bool:
    """True when the worker declared ``job``'s offering and can hold its image size."""
    return job.offering in caps.offerings and job.pixels <= caps.max_pixels


def order_key(job: QueuedJob) -> tuple[int, int, str]:
    """Sort key: higher priority first, then older first, then id for a total order."""
    return (-job.priority, job.created_ms, job.id)


def choose(queue: Iterable[QueuedJob], caps: Capabilities, limit: int | None = None) -> list[str]:
    """Ids of the jobs to lease to a worker, best first, at most its batch size."""
    count = caps.max_batch if limit is None else min(limit, caps.max_batch)
    return [job.id for job in sorted((j for j in queue if fits(j, caps)), key=order_key)][:count]


def lease_ttl_s(spec: Spec, min_s: int = LEASE_MIN_S, max_s: int = LEASE_MAX_S) -> int:
    """Lease length from job size: the modality's pessimistic run time, doubled, bounded."""
    expected = modality_of(spec).expected_run_s(spec)
    return int(min(max_s, max(min_s, 2 * expected + 5)))

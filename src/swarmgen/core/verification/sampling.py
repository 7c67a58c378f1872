"""Which jobs get re-executed: reputation, the sampling rate, and the auditable draw.

``rate = floor + (1 - floor) * (1 - reputation)``. A new worker (reputation 0) has every
job checked; each clean epoch closes a share of the remaining gap to 1, so a long-standing
worker is checked at about the floor. The floor rises as an offering's traffic falls,
because a few jobs give too few checks to judge anyone.

The draw is keyed by a secret per-epoch seed. Its SHA-256 is written to the ledger when
the epoch opens and the seed is revealed when it closes, so workers cannot know during
the epoch which jobs are checked, and anyone can recompute afterwards which jobs had to
be: :func:`audit_sampling`.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from swarmgen.core.verification.failures import VerificationError

SEED_BYTES = 32
"""Length of an epoch seed; the caller draws it from a cryptographic RNG."""
_DRAW_SPACE = 2**64


@dataclass(frozen=True)
class SamplingPolicy:
    """How trust is earned and how often trusted workers are still checked."""

    floor: float = 0.01
    """Check rate of a fully trusted worker when traffic is normal."""
    low_traffic_floor: float = 0.10
    """Check rate floor when an offering has no traffic at all."""
    normal_traffic: int = 1000
    """Jobs per epoch for an offering at and above which the floor is :attr:`floor`."""
    reputation_gain: float = 0.2
    """Share of the gap to full reputation that one clean epoch closes."""

    def __post_init__(self) -> None:
        for name in ("floor", "low_traffic_floor", "reputation_gain"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise VerificationError(f"{name}={value} is outside [0, 1]")
        if self.low_traffic_floor < self.floor:
            raise VerificationError("low_traffic_floor must be at least floor")
        if self.normal_traffic < 1:
            raise VerificationError("normal_traffic must be positive")


def reputation_after(prev: float, clean: bool, policy: SamplingPolicy = SamplingPolicy()) -> float:
    """Reputation after an epoch of work: up by a share of the gap if clean, else reset to 0.

    An epoch is clean when none of the worker's checks was lost. Idle epochs should not
    be passed here: they neither build nor spend trust.
    """
    if not 0.0 <= prev <= 1.0:
        raise VerificationError(f"reputation {prev} is outside [0, 1]")
    if not clean:
        return 0.0
    return prev + (1.0 - prev) * policy.reputation_gain


def effective_floor(traffic: int, policy: SamplingPolicy = SamplingPolicy()) -> float:
    """The floor for an offering with ``traffic`` jobs per epoch (linear between the two floors)."""
    shortfall = max(0.0, 1.0 - max(traffic, 0) / policy.normal_traffic)
    return policy.floor + (policy.low_traffic_floor - policy.floor) * shortfall


def sampling_rate(
    reputation: float, traffic: int, policy: SamplingPolicy = SamplingPolicy()
) -> float:
    """Probability that one of this worker's jobs is re-executed this epoch."""
    if not 0.0 <= reputation <= 1.0:
        raise VerificationError(f"reputation {reputation} is outside [0, 1]")
    floor = effective_floor(traffic, policy)
    return floor + (1.0 - floor) * (1.0 - reputation)


def commitment(epoch_seed: bytes) -> str:
    """The value published when the epoch opens: hex SHA-256 of the seed."""
    return hashlib.sha256(epoch_seed).hexdigest()


def draw(epoch_seed: bytes, job_id: str) -> float:
    """A uniform number in ``[0, 1)`` fixed by the seed and the job id (HMAC-SHA256)."""
    mac = hmac.new(epoch_seed, job_id.encode("utf-8"), hashlib.sha256).digest()
    return int.from_bytes(mac[:8], "big") / _DRAW_SPACE


def must_check(epoch_seed: bytes, job_id: str, rate: float) -> bool:
    """True when the job is drawn for re-execution at ``rate``; deterministic, uniform."""
    return draw(epoch_seed, job_id) < rate


@dataclass(frozen=True)
class AuditReport:
    """What recomputing an epoch's draw found."""

    commitment_matches: bool
    """The revealed seed hashes to the commitment published at epoch start."""
    required: tuple[str, ...]
    """Jobs the draw selected, in input order."""
    missing: tuple[str, ...]
    """Selected jobs that were not checked: the coordinator skipped its duty."""
    unexpected: tuple[str, ...]
    """Checked jobs the draw did not select (escalations or disputes should explain them)."""

    @property
    def ok(self) -> bool:
        """The seed matches its commitment and every selected job was checked."""
        return self.commitment_matches and not self.missing


def audit_sampling(
    revealed_seed: bytes,
    published_commitment: str,
    jobs_with_rates: Iterable[tuple[str, float]],
    checked_ids: Collection[str],
) -> AuditReport:
    """Recompute which jobs had to be checked and compare with the checks made.

    ``jobs_with_rates`` pairs each job of the epoch with the rate its worker had (rates are
    fixed at epoch start from the reputations in the ledger).
    """
    matches = hmac.compare_digest(commitment(revealed_seed), published_commitment.lower())
    jobs = list(jobs_with_rates)
    required = tuple(job for job, rate in jobs if must_check(revealed_seed, job, rate))
    checked = set(checked_ids)
    chosen = set(required)
    return AuditReport(
        commitment_matches=matches,
        required=required,
        missing=tuple(job for job in required if job not in checked),
        unexpected=tuple(sorted(job for job in checked if job not in chosen)),
    )

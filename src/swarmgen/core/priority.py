"""Which queued job goes first: the requester's balance, plus aging so nothing starves.

A job's priority is a bounded balance term (points per doubling of the requester's
balance, up to a cap) plus points for every second it has waited. Because the balance
term is bounded and the age term grows without bound, a job that has waited
:meth:`PriorityPolicy.starvation_bound_ms` longer than another outranks it whatever the
two balances: no job waits forever behind richer newcomers. Anonymous requests rank
below every keyed one of the same age, by a fixed penalty that aging also overcomes.
"""

from __future__ import annotations

from dataclasses import dataclass

from swarmgen.errors import RateLimited


@dataclass(frozen=True)
class PriorityPolicy:
    """How balance and waiting time weigh in a job's priority."""

    points_per_doubling: int = 1_000
    """Balance term: points per bit of the requester's balance in micro-credits."""
    max_balance_bits: int = 48
    """Balances above 2**max_balance_bits count as that (the balance term's cap)."""
    points_per_s: int = 100
    """Age term: points per second waited."""
    anonymous_penalty: int = 10_000
    """Subtracted from anonymous requests, which also get no balance term."""

    def __post_init__(self) -> None:
        if self.points_per_s <= 0:
            raise ValueError("points_per_s must be positive, or jobs could starve")
        if min(self.points_per_doubling, self.max_balance_bits, self.anonymous_penalty) < 0:
            raise ValueError("priority weights must be non-negative")

    @property
    def max_balance_points(self) -> int:
        return self.points_per_doubling * self.max_balance_bits

    def starvation_bound_ms(self) -> int:
        """Extra waiting that makes any job outrank any other (the widest balance gap)."""
        beat = self.max_balance_points + self.anonymous_penalty + 1
        return -(-beat * 1000 // self.points_per_s)


def priority(
    balance: int, waited_ms: int, policy: PriorityPolicy, *, anonymous: bool = False
) -> int:
    """Priority of a job (higher goes first); non-decreasing in ``waited_ms``."""
    age = max(waited_ms, 0) * policy.points_per_s // 1000
    if anonymous:
        return age - policy.anonymous_penalty
    bits = min(max(balance, 0).bit_length(), policy.max_balance_bits)
    return bits * policy.points_per_doubling + age


def admit(active_jobs: int, limit: int, retry_after_s: int) -> None:
    """Refuse a new job with :class:`RateLimited` (429) when a user already runs ``limit``.

    ``retry_after_s`` is the caller's estimate of when a slot frees (at least 1 second).
    """
    if active_jobs >= limit:
        retry = max(1, retry_after_s)
        raise RateLimited(
            f"{active_jobs} jobs already active (limit {limit}); retry in {retry} s",
            retry_after=retry,
            limit=limit,
        )

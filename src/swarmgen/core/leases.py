"""How long a lease may live: heartbeats extend it, but never past a hard maximum.

A worker keeps a lease alive by heartbeating; each heartbeat pushes the expiry out by
the job's TTL. Without a ceiling one key could hold a job (a validation seat above all)
for ever and starve the check it belongs to. So every lease has a hard end, fixed when
it is taken: ``leased_ms + factor × TTL``. Heartbeats move the expiry up to that end and
no further, and the reaper takes the job back there. Ordinary and validation jobs are
treated alike, so the cap tells a worker nothing about which kind it holds.
"""

from __future__ import annotations

LEASE_MAX_FACTOR = 3
"""Default hard maximum of a lease, in multiples of the job's TTL."""

MAX_FACTOR_LIMIT = 100
"""Largest factor a coordinator accepts: a cap must stay a cap."""


def check_factor(factor: int) -> int:
    """``factor`` if it is a usable multiple of the TTL (1 to :data:`MAX_FACTOR_LIMIT`)."""
    if not 1 <= factor <= MAX_FACTOR_LIMIT:
        raise ValueError(f"lease max factor {factor} is outside 1..{MAX_FACTOR_LIMIT}")
    return factor


def hard_end_ms(leased_ms: int, ttl_s: int, factor: int = LEASE_MAX_FACTOR) -> int:
    """The instant after which a lease taken at ``leased_ms`` can no longer be held."""
    return leased_ms + check_factor(factor) * ttl_s * 1000


def extended_expiry_ms(
    now: int, leased_ms: int | None, ttl_s: int, factor: int = LEASE_MAX_FACTOR
) -> int:
    """Where a heartbeat at ``now`` moves a lease's expiry: one TTL on, capped at the
    lease's hard end. A lease with no recorded start (taken before starts were kept)
    gets the plain TTL, as the SQL's ``NULL`` comparison does."""
    fresh = now + ttl_s * 1000
    if leased_ms is None:
        return fresh
    return min(fresh, hard_end_ms(leased_ms, ttl_s, factor))

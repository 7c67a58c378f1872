"""Who sits a validation seat: a worker drawn by stake, never whoever asks first.

A seat is assigned by the coordinator, not taken by a worker. The draw is a point,
``SHA-256(seed ‖ checked job id ‖ 0x00 ‖ seat)`` read as an integer modulo the total
stake of the *eligible* candidates, laid end to end in worker-id order; the candidate
whose span holds the point sits the seat. ``seed`` is the epoch's committed sampling
seed (:mod:`swarmgen.core.verification.sampling`), revealed when the epoch closes, and
``seat`` names the seat (its validation job's id), so anyone holding the revealed seed
and the stake table can recompute every draw, and nobody can predict one before the
close. A key's chance of a seat is its share of the eligible stake, so an adversary
holding a share ``s`` of it sits about ``s`` of the seats, however many keys it splits
its stake over.

Eligible (:func:`eligible`): the worker serves the seat's offering at its size, was seen
(a pop or a heartbeat) within :data:`LIVE_MS`, has an owner, has at least the offering's
minimum stake locked, has not missed too many seats this epoch, and
:func:`~swarmgen.core.verification.escalation.can_validate` allows it on this panel
(not the claimant, not of the claimant's owner, not of the account that submitted the
checked job, not already seated, voted or missed on this claim, nor drawn for another
of its seats, nor a key of an owner that is any of these: a panel counts owners, not
keys). Nobody eligible: the seat waits undrawn and is drawn again later, when workers
appear; it is never handed to whoever pops first.

A drawn worker must take its seat (pop it) by :func:`take_deadline_ms`: a lease's hard
maximum plus :data:`TAKE_GRACE_MS`, counted from the draw. Past it the seat is missed,
as a lease that runs out is (reliability, never a ballot), and drawn again without that
worker. Otherwise a key that heartbeats (so stays eligible) but never pops would hold
its seat for ever: an unleased seat has no lease to expire.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from swarmgen.core.leases import LEASE_MAX_FACTOR, hard_end_ms
from swarmgen.core.verification.escalation import Participant, can_validate
from swarmgen.core.verification.failures import VerificationError

LIVE_MS = 120_000
"""How recently a worker must have been seen (pop or heartbeat) to be drawn."""

TAKE_GRACE_MS = 120_000
"""How long past a lease's hard maximum, counted from its draw, a drawn seat may wait
for its worker to take it. A live worker pops again at the latest when the leases it
holds reach their hard maximum, so an honest one drawn while busy takes its seat in
time; the grace covers its poll interval and clock skew (:data:`LIVE_MS` alike)."""


def take_deadline_ms(drawn_ms: int, ttl_s: int, factor: int = LEASE_MAX_FACTOR) -> int:
    """The instant after which a seat drawn at ``drawn_ms`` and not yet taken is missed
    by its drawn worker: the hard end a lease of the seat taken at the draw would have
    (``ttl_s``: the seat's lease TTL, ``factor``: the lease cap), plus :data:`TAKE_GRACE_MS`."""
    return hard_end_ms(drawn_ms, ttl_s, factor) + TAKE_GRACE_MS


@dataclass(frozen=True)
class Candidate:
    """A worker as the draw sees it."""

    worker_id: str
    owner_id: str | None
    stake: int
    """Locked stake behind the worker, in micro-credits (unbonding stake does not count)."""
    offerings: frozenset[str]
    """``name@precision`` offerings it serves."""
    max_pixels: int
    last_seen_ms: int
    seats_allowed: bool = True
    """False once it has missed too many seats this epoch
    (:func:`~swarmgen.core.verification.reliability.may_take_seats`): dispatch would not
    lease it a seat, so it is not drawn for one either."""

    @property
    def participant(self) -> Participant:
        return Participant(self.worker_id, self.owner_id)

    @property
    def weight(self) -> int:
        """Its span in the draw: its locked stake, at least one micro-credit (so a
        network run with no minimum stake still draws, uniformly among unstaked keys)."""
        return max(self.stake, 1)


@dataclass(frozen=True)
class Seat:
    """One validation seat to fill."""

    checked_job_id: str
    seat: str
    """The seat's name in the draw: its validation job's id."""
    offering: str
    pixels: int
    claimant: Participant
    panel: frozenset[str] = frozenset()
    """Workers that hold or held a seat on this claim, voted on it or missed a seat of it."""
    panel_owners: frozenset[str] = frozenset()
    """The owners of :attr:`panel`'s workers: no other key of theirs is drawn for the seat."""
    requester: str | None = None
    """The account that submitted the checked job: none of its workers is drawn."""


def eligible(
    candidates: Iterable[Candidate],
    seat: Seat,
    *,
    now_ms: int,
    min_stake: int,
    live_ms: int = LIVE_MS,
) -> list[Candidate]:
    """The candidates that may be drawn for ``seat``, in worker-id order (the draw's order)."""
    if min_stake < 0:
        raise VerificationError("min_stake must not be negative")
    return sorted(
        (
            c
            for c in candidates
            if seat.offering in c.offerings
            and seat.pixels <= c.max_pixels
            and c.last_seen_ms >= now_ms - live_ms
            and c.owner_id is not None
            and c.seats_allowed
            and c.stake >= min_stake
            and can_validate(
                c.participant, seat.claimant, seat.panel, seat.panel_owners, seat.requester
            )
        ),
        key=lambda c: c.worker_id,
    )


def point(seed: bytes, checked_job_id: str, seat: str) -> int:
    """The seat's draw point: SHA-256 of the seed, the checked job's id and the seat."""
    digest = hashlib.sha256(seed + checked_job_id.encode() + b"\x00" + seat.encode()).digest()
    return int.from_bytes(digest, "big")


def draw_order(seed: bytes, seats: Iterable[str]) -> list[str]:
    """The order in which seats drawn together are drawn: by ``SHA-256(seed ‖ 0x01 ‖
    seat)``, unrelated to the seats' ids (which their workers see) and unknown to anyone
    before the seed is revealed. The order matters within a panel: a seat drawn first
    has the whole pool to draw from, the next ones only the owners left. Drawn in id
    order, a panel's lowest id went most often to the owner with the most stake, so
    that owner's workers saw their seats' ids run low, and seats first in their leases."""
    return sorted(seats, key=lambda s: hashlib.sha256(seed + b"\x01" + s.encode()).digest())


def pick(seed: bytes, checked_job_id: str, seat: str, pool: Sequence[Candidate]) -> str | None:
    """The worker whose span of the stake holds the seat's point (``pool`` in draw order,
    as :func:`eligible` returns it), or ``None`` for an empty pool."""
    total = sum(c.weight for c in pool)
    if total == 0:
        return None
    target = point(seed, checked_job_id, seat) % total
    for candidate in pool:
        if target < candidate.weight:
            return candidate.worker_id
        target -= candidate.weight
    raise AssertionError("unreachable: the point lies within the total")


def draw(
    seed: bytes,
    seat: Seat,
    candidates: Collection[Candidate],
    *,
    now_ms: int,
    min_stake: int,
    live_ms: int = LIVE_MS,
) -> str | None:
    """The worker drawn for ``seat`` among ``candidates``, or ``None`` when nobody is eligible."""
    pool = eligible(candidates, seat, now_ms=now_ms, min_stake=min_stake, live_ms=live_ms)
    return pick(seed, seat.checked_job_id, seat.seat, pool)

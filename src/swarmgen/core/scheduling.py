"""Scheduling decisions: which queued job fits a worker, in what order, under what lease.

The store's SQL query mirrors :func:`fits` and :func:`order_key` (offering in the
worker's list, pixels within its limit, priority first then age); the in-memory fake
and the tests use these functions directly. With aging, priority and waiting time fold
into one integer per job, :func:`queue_key`, which the store keeps on the job's row and
indexes, so a lease walks an index instead of sorting the queue (decision record 0024).

Validation seats go out by :func:`hand_out` (decision record 0008): a seat drawn for a
worker takes the place of an ordinary job that worker's pop would have leased anyway,
so a pop carrying a seat returns exactly when one carrying ordinary work would; the
ordinary job stays queued for the next worker. Only a worker left idle for its hold
(:class:`Pace`) gets its seats with nothing else due, so no panel waits for ever.

Workers waiting together share a short queue (:func:`fair_share`): each takes its part
of the jobs due rather than a full batch, so a burst is spread over every idle worker
instead of going to whichever asked first (decision record 0023).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

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


MAX_AGING_POINTS_PER_S = 1_000_000
"""Most priority points per second of waiting :func:`queue_key` takes: its key stays a
64-bit integer for millisecond times until the year 2262."""


def queue_key(priority: int, created_ms: int, aging_per_s: int) -> int:
    """A queued job's place as one integer, smaller first (ties: older, then by id).

    A job that gains ``aging_per_s`` points per second waited stands at
    ``priority + (now - created_ms) * aging_per_s / 1000`` points; scaled by 1000 and
    shifted by ``-now * aging_per_s`` that is ``1000 * priority - created_ms * aging_per_s``
    for every job at once, so the order needs no clock and the key is fixed when the job
    is queued. Negated, so the best job has the smallest key. With no aging it orders as
    :func:`order_key` does.
    """
    if not 0 <= aging_per_s <= MAX_AGING_POINTS_PER_S:
        raise ValueError(f"aging_per_s must be within 0..{MAX_AGING_POINTS_PER_S}")
    return created_ms * aging_per_s - 1000 * priority


def choose(queue: Iterable[QueuedJob], caps: Capabilities, limit: int | None = None) -> list[str]:
    """Ids of the jobs to lease to a worker, best first, at most its batch size."""
    count = caps.max_batch if limit is None else min(limit, caps.max_batch)
    return [job.id for job in sorted((j for j in queue if fits(j, caps)), key=order_key)][:count]


SHARE_LOOKAHEAD = 16
"""Most waiting workers a queue is divided among: a queue holding a full batch for this
many of them is deep, and every pop takes a full batch."""


def share_lookahead(limit: int, sharing: int) -> int:
    """How many ordinary jobs due a pop looks at to find its :func:`fair_share`."""
    return max(limit, 0) * min(max(sharing, 1), SHARE_LOOKAHEAD)


def fair_share(found: int, limit: int, sharing: int) -> int:
    """How many of the ``found`` ordinary jobs due (counted up to :func:`share_lookahead`)
    one of ``sharing`` workers waiting for them takes: all it may (``limit``) from a deep
    queue, else its part, rounded up. Taken in turn, the parts add up to the queue, so
    every waiting worker gets a job while there are as many jobs as workers."""
    if found >= share_lookahead(limit, sharing):
        return max(limit, 0)
    return min(max(limit, 0), -(-max(found, 0) // max(sharing, 1)))


SEAT_HOLD_S = 5.0
"""Longest a worker may stay idle while a seat drawn for it waits for an ordinary job
to take the place of; past it the seat goes out on its own."""


@dataclass(frozen=True)
class SeatTurn:
    """How the validation seats drawn for a worker may go out in one lease."""

    credit: int
    """Seats it may take in place of ordinary jobs due to it (what :class:`Pace` keeps)."""
    overdue: bool
    """It has been idle for its hold: its seats go out even with no ordinary job due."""


ANY_TIME = SeatTurn(credit=2**31, overdue=True)
"""No pacing: seats go out whenever they are drawn (tools and tests of dispatch alone)."""


def hand_out(
    ordinary: Sequence[str], seats: Sequence[str], limit: int, turn: SeatTurn
) -> list[str]:
    """The ids a worker leases, in id order (ids are random: the order says nothing).

    ``ordinary`` are the ordinary jobs due to it, best first; ``seats`` the seats drawn
    for it that it may sit (one per panel), best first. A seat only takes the place of
    one of the ordinary jobs the lease would carry (the worst of them, which stays
    queued), at most ``turn.credit`` of them; an overdue worker gets its seats first
    and ordinary jobs in what room is left. The store's lease applies this to the rows
    its queries found, so the rule is written here once.
    """
    due = list(ordinary[: max(limit, 0)])
    if turn.overdue:
        placed = list(seats[: max(limit, 0)])
        chosen = placed + due[: max(limit, 0) - len(placed)]
    else:
        swaps = min(len(seats), len(due), max(turn.credit, 0))
        chosen = list(seats[:swaps]) + due[: len(due) - swaps]
    return sorted(chosen)


@dataclass(frozen=True)
class Pace:
    """What the coordinator remembers of one worker between its pops, for
    :func:`hand_out`: since when it has been idle (its pops finding nothing due), and
    how many seats it may take in place of ordinary jobs. Each ordinary job leased
    earns one, each seat spends one, up to ``cap``: a worker drawn onto every panel
    still runs at least as many ordinary jobs as seats while ordinary work is due."""

    idle_since_ms: int | None = None
    credit: int = 0

    def turn(self, now_ms: int, hold_ms: int) -> SeatTurn:
        """How its seats may go out now: overdue once it has been idle for ``hold_ms``
        (at once with no hold)."""
        idle = self.idle_since_ms
        overdue = hold_ms <= 0 or (idle is not None and now_ms - idle >= hold_ms)
        return SeatTurn(self.credit, overdue)

    def after(self, now_ms: int, turn: SeatTurn, seats: int, ordinary: int, cap: int) -> Pace:
        """The pace after a lease, under ``turn``, of ``seats`` seats and ``ordinary``
        ordinary jobs.

        Seats that took the places of ordinary jobs spend credit; ordinary jobs leased
        earn it (up to ``cap``). A lease with ordinary work due ends an idle spell; seats
        that went out because the worker was overdue leave it overdue, so a worker with
        no ordinary work runs its seats back to back rather than one per hold."""
        if seats == 0 and ordinary == 0:
            idle = self.idle_since_ms
            return replace(self, idle_since_ms=now_ms if idle is None else idle)
        if turn.overdue and ordinary == 0:
            return self
        spent = 0 if turn.overdue else seats
        credit = min(max(cap, 0), max(self.credit - spent, 0) + ordinary)
        return Pace(idle_since_ms=None, credit=credit)


def lease_ttl_s(spec: Spec, min_s: int = LEASE_MIN_S, max_s: int = LEASE_MAX_S) -> int:
    """Lease length from job size: the modality's pessimistic run time, doubled, bounded."""
    expected = modality_of(spec).expected_run_s(spec)
    return int(min(max_s, max(min_s, 2 * expected + 5)))

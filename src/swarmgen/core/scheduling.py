"""Scheduling decisions: which queued job fits a worker, in what order, under what lease.

The store's SQL query mirrors :func:`fits` and :func:`order_key` (offering in the
worker's list, pixels within its limit, priority first then age); the in-memory fake
and the tests use these functions directly. With aging, priority and waiting time fold
into one integer per job, :func:`queue_key`, which the store keeps on the job's row and
indexes, so a lease walks an index instead of sorting the queue (decision record 0024).

Validation seats go out by :func:`hand_out` (decision record 0008): a seat drawn for a
worker takes the place of an ordinary job that worker's pop would have leased anyway,
so a pop carrying a seat returns exactly when one carrying ordinary work would; the
ordinary job stays queued for the next worker. Each place of a lease goes to a waiting
seat with the same chance (:data:`SEAT_SHARE`, the coordinator's coin), so neither the
lease's length nor the worker's past says which jobs are seats. Only a worker left idle
for its hold (:class:`Pace`, drawn per idle spell) gets its seats with nothing else due,
as many as it would get of as many ordinary jobs, so no panel waits for ever.

Workers waiting together share a short queue (:func:`fair_share`): each takes its part
of the jobs due rather than a full batch, so a burst is spread over every idle worker
instead of going to whichever asked first (decision record 0023).
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
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


MAX_AGING_POINTS_PER_S = 1_000_000
"""Most priority points per second of waiting :func:`queue_key` takes: its key stays a
64-bit integer for millisecond times until the year 2262."""


POSITION_CAP = 1_000
"""The most jobs a queue position counts ahead of a job: one further back is told
``POSITION_CAP`` ("this many or more"), so a submit's answer costs the same however long
the queue (the count walks the index range ahead of the job, one entry per job)."""


def position(ahead: int) -> int:
    """The queue position a job with ``ahead`` jobs before it is told."""
    return min(ahead, POSITION_CAP)


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
    one of ``sharing`` workers waiting for them takes: its part, rounded up; from a queue
    at least as deep as it looked, all it may (``limit``), less whatever the others
    would then miss of one job each. Taken in turn, the parts add up to the queue, and
    every waiting worker gets a job while there are as many jobs as workers.

    Up to :data:`SHARE_LOOKAHEAD` waiting workers, a deep queue is one holding a full
    batch for each, so every pop takes a full batch. More than that wait only when a
    burst meets an idle fleet: a pop sees no further than the batches of that many, so
    it takes what leaves one job for each of the others it can see (at least one)."""
    lookahead = share_lookahead(limit, sharing)
    room = max(limit, 0)
    if found >= lookahead:
        return min(room, max(1, lookahead - (max(sharing, 1) - 1)))
    return min(room, -(-max(found, 0) // max(sharing, 1)))


QUEUE_TTL_S = 3600
"""How long an ordinary job may wait in the queue untaken before it expires (failed and
refunded in full). It bounds how long a job can stay open, and so how long an open job
can hold its epoch back from the public ledger (:mod:`swarmgen.coordinator.auditing`)."""
SEAT_HOLD_S = 5.0
"""Mean time a worker stays idle while a seat drawn for it waits for an ordinary job to
take the place of; past its hold the seat goes out on its own."""
SEAT_SHARE = 0.5
"""Chance that each place of a lease goes to a seat waiting for the worker rather than
to the ordinary job due there: one half keeps a worker drawn onto every panel running
as many ordinary jobs as seats, on average, while ordinary work is due."""


@dataclass(frozen=True)
class SeatTurn:
    """How the validation seats drawn for a worker may go out in one lease."""

    places: tuple[bool, ...] | None
    """Per place of the lease, in order, whether a seat waiting for the worker takes it
    (:func:`draw_places`: each with the same chance, whatever the batch or the worker's
    past); places past the end take none. ``None``: unpaced, the seats go first and
    ordinary jobs fill what room is left (:data:`ANY_TIME`)."""
    overdue: bool
    """Its hold has passed: with no ordinary job due, its seats go out on their own."""


ANY_TIME = SeatTurn(places=None, overdue=True)
"""No pacing: seats go out whenever they are drawn (tools and tests of dispatch alone)."""


def draw_places(rng: random.Random, count: int, share: float = SEAT_SHARE) -> tuple[bool, ...]:
    """The coordinator's coins for the first ``count`` places of a lease, each true with
    chance ``share``, independently (``rng``: a source the worker cannot predict)."""
    return tuple(rng.random() < share for _ in range(max(count, 0)))


HOLD_CUT = 10
"""Longest hold, in means (an exponential draw is cut there, about once in 22,000)."""


def draw_hold_ms(rng: random.Random, mean_ms: int) -> int:
    """One idle spell's hold: exponential with mean ``mean_ms`` (0: none), cut at
    :data:`HOLD_CUT` means. Memoryless: however long a worker has been idle, the chance
    that its seat goes out in the next moment is the same, so the moment says nothing."""
    if mean_ms <= 0:
        return 0
    return int(min(rng.expovariate(1.0 / mean_ms), HOLD_CUT * mean_ms))


def hand_out(
    ordinary: Sequence[str], seats: Sequence[str], limit: int, turn: SeatTurn, sharing: int = 1
) -> list[str]:
    """The ids a worker leases, in id order (ids are random: the order says nothing).

    ``ordinary`` are the ordinary jobs due to it, best first (its :func:`fair_share`);
    ``seats`` the seats drawn for it that it may sit (one per panel), best first. A seat
    only takes a place of the lease its ordinary jobs would fill, a place ``turn.places``
    gives to seats, and the ordinary jobs it displaces (the worst) stay queued: the lease
    is as long, and each of its jobs as likely a seat, whatever its length. With no
    ordinary job due, an overdue worker gets its seats as it would get as many ordinary
    jobs queued for it among ``sharing`` waiting workers. Unpaced (:data:`ANY_TIME`),
    seats go first and ordinary jobs fill the room left. The store's lease applies this
    to the rows its queries found, so the rule is written here once.
    """
    room = max(limit, 0)
    due = list(ordinary[:room])
    if turn.places is None:  # unpaced
        placed = list(seats[:room])
        return sorted([*placed, *due[: room - len(placed)]])
    if not due:
        count = fair_share(len(seats), limit, sharing) if turn.overdue else 0
        return sorted(seats[:count])
    swaps = min(len(seats), sum(turn.places[: len(due)]))
    return sorted([*seats[:swaps], *due[: len(due) - swaps]])


@dataclass(frozen=True)
class Pace:
    """What the coordinator remembers of one worker between its pops, for
    :func:`hand_out`: since when it has been idle (its pops finding nothing due) and
    when, in that idle spell, its seats fall due (a hold from :func:`draw_hold_ms`)."""

    idle_since_ms: int | None = None
    due_ms: int | None = None

    def turn(self, now_ms: int, places: tuple[bool, ...] | None) -> SeatTurn:
        """How its seats may go out now, with the coordinator's coins ``places``:
        overdue once its idle spell's hold has passed."""
        return SeatTurn(places, overdue=self.due_ms is not None and now_ms >= self.due_ms)

    def after(self, now_ms: int, turn: SeatTurn, seats: int, ordinary: int, hold_ms: int) -> Pace:
        """The pace after a lease, under ``turn``, of ``seats`` seats and ``ordinary``
        ordinary jobs; ``hold_ms`` is the hold of an idle spell this lease would start.

        A lease that finds nothing starts an idle spell (or continues one); a lease with
        ordinary work ends it. Seats that went out because the worker was overdue leave
        it overdue, so a worker with no ordinary work runs its seats back to back rather
        than one per hold."""
        if seats == 0 and ordinary == 0:
            if self.idle_since_ms is not None:
                return self
            return Pace(idle_since_ms=now_ms, due_ms=now_ms + max(hold_ms, 0))
        if turn.overdue and ordinary == 0:
            return self
        return Pace()


def lease_ttl_s(spec: Spec, min_s: int = LEASE_MIN_S, max_s: int = LEASE_MAX_S) -> int:
    """Lease length from job size: the modality's pessimistic run time, doubled, bounded."""
    expected = modality_of(spec).expected_run_s(spec)
    return int(min(max_s, max(min_s, 2 * expected + 5)))

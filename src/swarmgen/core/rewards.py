"""The emission split: per offering by configured shares, within one by volume x speed.

Speed is what the coordinator observed, never what a worker reports: the time from the
start of a job's lease to the coordinator's completion stamp, per work unit
(:func:`observed_speeds`). Jobs leased together in one batch share one figure, the
batch's last completion minus its lease start over the units of the whole batch, so a
slow worker that batches many jobs looks exactly as slow as it is: batching changes
neither its elapsed time nor its units, only how they are grouped. A batch holding a job
leased before (handed back or expired, then leased again) counts as the slowest: its
work may have been done before this lease began, and timing it from a later lease
would let a worker look fast by handing jobs back.

All arithmetic is on integers. Every split uses the largest-remainder method, so the
parts add up to the whole exactly and ties go to the smaller key: the same inputs give
the same split on every coordinator. See ``docs/decisions/0004-epoch-rewards.md``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from swarmgen.core.credits import PPM
from swarmgen.core.verification.reliability import SeatRecord, scaled_weight


@dataclass(frozen=True)
class SpeedBounds:
    """How much speed may raise or lower a worker's weight, in millionths."""

    floor_ppm: int = 750_000
    cap_ppm: int = 1_500_000

    def __post_init__(self) -> None:
        if not 0 < self.floor_ppm <= PPM <= self.cap_ppm:
            raise ValueError("speed bounds must satisfy 0 < floor <= 1_000_000 <= cap")


@dataclass(frozen=True)
class WorkerWork:
    """A worker's verified work on one offering during an epoch."""

    worker_id: str
    offering: str
    verified_units: int
    """Work units of the worker's jobs that were accepted and not found invalid."""
    ms_per_munit: int
    """Median milliseconds per million work units over those jobs (0: unknown)."""


@dataclass(frozen=True)
class JobWork:
    """One completed job's contribution to its worker's emission weight."""

    job_id: str
    worker_id: str
    offering: str
    units: int
    ms_per_munit: int
    """Observed milliseconds per million work units (0: unknown, neutral)."""


@dataclass(frozen=True)
class Run:
    """A completed job as the coordinator saw it: when its lease began and it completed."""

    job_id: str
    worker_id: str
    leased_ms: int | None
    completed_ms: int
    units: int
    attempts: int = 1
    """How many times the job was leased; above one its run may predate this lease."""


SLOWEST = 2**62
"""Milliseconds per million units that rank a run at the speed floor."""


def observed_speeds(runs: Iterable[Run]) -> dict[str, int]:
    """Observed milliseconds per million work units of each job, from its lease batch.

    A batch is the jobs one worker leased at one moment. Pass every completed job of the
    batches asked about (validation jobs included): the units of all of them divide the
    batch's elapsed time. A job without a lease start is unknown (0); a batch completed
    within its lease's first millisecond counts as 1 ms; a batch with a job leased more
    than once is :data:`SLOWEST`.
    """
    batches: dict[tuple[str, int], list[Run]] = {}
    out: dict[str, int] = {}
    for run in runs:
        if run.leased_ms is None:
            out[run.job_id] = 0
        else:
            batches.setdefault((run.worker_id, run.leased_ms), []).append(run)
    for (_, leased_ms), batch in batches.items():
        units = sum(max(run.units, 0) for run in batch)
        elapsed = max(1, max(run.completed_ms for run in batch) - leased_ms)
        figure = elapsed * PPM // units if units > 0 else 0
        if any(run.attempts > 1 for run in batch):
            figure = SLOWEST
        out.update({run.job_id: figure for run in batch})
    return out


def worker_work(jobs: Iterable[JobWork]) -> list[WorkerWork]:
    """Per-job work summed per ``(worker, offering)``, with the median observed speed."""
    units: dict[tuple[str, str], int] = {}
    speeds: dict[tuple[str, str], list[int]] = {}
    for job in jobs:
        key = (job.worker_id, job.offering)
        units[key] = units.get(key, 0) + job.units
        if job.units > 0 and job.ms_per_munit > 0:
            speeds.setdefault(key, []).append(job.ms_per_munit)
    return [
        WorkerWork(key[0], key[1], units[key], median(speeds.get(key, ()))) for key in sorted(units)
    ]


def split(total: int, weights: Mapping[str, int]) -> dict[str, int]:
    """Divide ``total`` in proportion to ``weights`` (largest remainder, exact).

    Keys with zero weight get nothing; an all-zero ``weights`` gets nothing at all.
    """
    if total < 0 or any(w < 0 for w in weights.values()):
        raise ValueError("split needs a non-negative total and weights")
    whole = sum(weights.values())
    if whole == 0 or total == 0:
        return {}
    parts = {key: total * w // whole for key, w in weights.items() if w}
    left = total - sum(parts.values())
    by_remainder = sorted(parts, key=lambda key: (-(total * weights[key] % whole), key))
    for key in by_remainder[:left]:
        parts[key] += 1
    return {key: amount for key, amount in parts.items() if amount}


def median(values: Iterable[int]) -> int:
    """The lower median (an integer; 0 for no values)."""
    ordered = sorted(values)
    return ordered[(len(ordered) - 1) // 2] if ordered else 0


def speed_ppm(worker_ms: int, offering_ms: int, bounds: SpeedBounds) -> int:
    """A worker's speed factor: the offering's median time over the worker's, bounded.

    An unknown time (0) is neutral: claiming no time must not look infinitely fast.
    """
    if worker_ms <= 0 or offering_ms <= 0:
        return PPM
    return max(bounds.floor_ppm, min(bounds.cap_ppm, offering_ms * PPM // worker_ms))


def offering_weights(work: Iterable[WorkerWork], bounds: SpeedBounds) -> dict[str, int]:
    """Each worker's weight within one offering: verified units x speed factor."""
    rows = [w for w in work if w.verified_units > 0]
    typical = median(w.ms_per_munit for w in rows if w.ms_per_munit > 0)
    weights: dict[str, int] = {}
    for row in rows:
        factor = speed_ppm(row.ms_per_munit, typical, bounds)
        weights[row.worker_id] = weights.get(row.worker_id, 0) + row.verified_units * factor
    return weights


def emission(
    pool: int,
    shares: Mapping[str, int],
    work: Iterable[WorkerWork],
    bounds: SpeedBounds,
    excluded: frozenset[str] = frozenset(),
    *,
    seats: Mapping[str, SeatRecord] | None = None,
) -> dict[tuple[str, str], int]:
    """Emission per ``(offering, worker)``.

    ``pool`` is split across offerings by ``shares``; an offering's part is split among
    its workers (except ``excluded``) by :func:`offering_weights`, each weight scaled by
    the worker's reliability at the validation seats it was drawn for (``seats``; a
    worker without a record is fully reliable). A part with no verified work in its
    offering is not minted.
    """
    records = seats or {}
    by_offering: dict[str, list[WorkerWork]] = {}
    for row in work:
        if row.worker_id not in excluded and row.offering in shares:
            by_offering.setdefault(row.offering, []).append(row)
    out: dict[tuple[str, str], int] = {}
    for offering, part in sorted(split(pool, shares).items()):
        weights = {
            worker_id: scaled_weight(weight, records.get(worker_id, SeatRecord()))
            for worker_id, weight in offering_weights(by_offering.get(offering, []), bounds).items()
        }
        for worker_id, amount in split(part, weights).items():
            out[(offering, worker_id)] = amount
    return out

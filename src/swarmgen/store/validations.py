"""Verification rows: sampling seeds, checks and their ballots, reputations.

Every function takes the caller's connection: verification always writes inside a
ledger transaction (:meth:`swarmgen.store.ledger.LedgerStore.book`), so a draw, a
ballot or a verdict lands together with the job and ledger changes it belongs to.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, and_, func, select, update

from swarmgen.core.jobs import JobState
from swarmgen.store import schema as t

_OPEN = (JobState.QUEUED.value, JobState.LEASED.value)


class CheckStatus(StrEnum):
    """Where the check of one sampled job stands."""

    PENDING = "pending"
    """Validators are still re-executing or more are needed."""
    UPHELD = "upheld"
    """The panel upheld the claim."""
    REJECTED = "rejected"
    """The panel rejected the claim: a failure of the claimant."""
    ABANDONED = "abandoned"
    """No panel could be seated before its second epoch closed; counted for no one."""


@dataclass(frozen=True)
class CheckRow:
    job_id: str
    worker_id: str
    offering: str
    epoch: int
    status: CheckStatus
    decided_epoch: int | None
    reason: str | None


@dataclass(frozen=True)
class BallotRow:
    job_id: str
    validator_id: str
    validation_job_id: str
    position: int
    vote: str
    reason: str
    detail: str
    distance: float | None
    epoch: int
    penalised: bool


def _check(row: Any) -> CheckRow:
    return CheckRow(
        row.job_id,
        row.worker_id,
        row.offering,
        row.epoch,
        CheckStatus(row.status),
        row.decided_epoch,
        row.reason,
    )


def _ballot(row: Any) -> BallotRow:
    data = dict(row._mapping)
    data.pop("recorded_ms")
    return BallotRow(**data)


# seeds ------------------------------------------------------------------------------


def seed_of(conn: Connection, epoch: int) -> bytes | None:
    """The epoch's secret sampling seed, or ``None`` before it is drawn."""
    c = t.sampling_seeds.c
    value = conn.execute(select(c.seed).where(c.epoch == epoch)).scalar()
    return bytes.fromhex(value) if value else None


def insert_seed(conn: Connection, epoch: int, seed: bytes, commitment: str, now: int) -> None:
    conn.execute(
        t.sampling_seeds.insert().values(
            epoch=epoch, seed=seed.hex(), commitment=commitment, created_ms=now
        )
    )


# checks and ballots ---------------------------------------------------------------


def open_check(
    conn: Connection, job_id: str, worker_id: str, offering: str, *, epoch: int, now: int
) -> None:
    conn.execute(
        t.checks.insert().values(
            job_id=job_id,
            worker_id=worker_id,
            offering=offering,
            epoch=epoch,
            status=CheckStatus.PENDING.value,
            opened_ms=now,
        )
    )


def get_check(conn: Connection, job_id: str) -> CheckRow | None:
    row = conn.execute(select(t.checks).where(t.checks.c.job_id == job_id)).first()
    return _check(row) if row else None


def pending_checks(conn: Connection) -> list[CheckRow]:
    c = t.checks.c
    rows = conn.execute(
        select(t.checks)
        .where(c.status == CheckStatus.PENDING.value)
        .order_by(c.opened_ms, c.job_id)
    ).all()
    return [_check(row) for row in rows]


def settle_check(
    conn: Connection, job_id: str, status: CheckStatus, *, epoch: int, reason: str, now: int
) -> None:
    conn.execute(
        update(t.checks)
        .where(t.checks.c.job_id == job_id)
        .values(status=status.value, decided_epoch=epoch, reason=reason, decided_ms=now)
    )


def ballots(conn: Connection, job_id: str) -> list[BallotRow]:
    """The panel's ballots on ``job_id`` in arrival order."""
    c = t.ballots.c
    rows = conn.execute(select(t.ballots).where(c.job_id == job_id).order_by(c.position)).all()
    return [_ballot(row) for row in rows]


def add_ballot(
    conn: Connection,
    job_id: str,
    validator_id: str,
    validation_job_id: str,
    *,
    vote: str,
    reason: str,
    detail: str,
    distance: float | None,
    epoch: int,
    now: int,
) -> bool:
    """Record one validator's vote; ``False`` if it already voted on this claim."""
    c = t.ballots.c
    voted = conn.execute(
        select(c.position).where(c.job_id == job_id, c.validator_id == validator_id)
    ).first()
    if voted is not None:
        return False
    position = conn.execute(select(func.count()).where(c.job_id == job_id)).scalar_one()
    finite = distance if distance is not None and math.isfinite(distance) else None
    conn.execute(
        t.ballots.insert().values(
            job_id=job_id,
            validator_id=validator_id,
            validation_job_id=validation_job_id,
            position=int(position),
            vote=vote,
            reason=reason[:64],
            detail=detail,
            distance=finite,
            epoch=epoch,
            penalised=False,
            recorded_ms=now,
        )
    )
    return True


def penalise(conn: Connection, job_id: str, validator_ids: Sequence[str]) -> None:
    """Mark the validators on the losing side (or absent) of a settled panel."""
    if validator_ids:
        c = t.ballots.c
        conn.execute(
            update(t.ballots)
            .where(c.job_id == job_id, c.validator_id.in_(list(validator_ids)))
            .values(penalised=True)
        )


def outstanding(conn: Connection, job_id: str) -> int:
    """Validation jobs of ``job_id`` still queued or leased."""
    c = t.jobs.c
    query = select(func.count()).where(c.validates == job_id, c.state.in_(_OPEN))
    return int(conn.execute(query).scalar_one())


def cancel_outstanding(conn: Connection, job_id: str, now: int) -> int:
    """Withdraw the validation jobs of a settled panel that no one has finished."""
    c = t.jobs.c
    return conn.execute(
        update(t.jobs)
        .where(c.validates == job_id, c.state.in_(_OPEN))
        .values(state=JobState.CANCELLED.value, updated_ms=now, lease_expires_ms=None)
    ).rowcount


# epochs -----------------------------------------------------------------------------


def decided_in(conn: Connection, epoch: int) -> list[CheckRow]:
    """Checks settled (upheld or rejected) during ``epoch``."""
    c = t.checks.c
    rows = conn.execute(
        select(t.checks)
        .where(
            c.decided_epoch == epoch,
            c.status.in_([CheckStatus.UPHELD.value, CheckStatus.REJECTED.value]),
        )
        .order_by(c.job_id)
    ).all()
    return [_check(row) for row in rows]


def ballots_of_checks(conn: Connection, job_ids: Sequence[str]) -> list[BallotRow]:
    if not job_ids:
        return []
    c = t.ballots.c
    rows = conn.execute(
        select(t.ballots).where(c.job_id.in_(list(job_ids))).order_by(c.job_id, c.position)
    ).all()
    return [_ballot(row) for row in rows]


def traffic(conn: Connection, offering: str, epoch: int) -> int:
    """Jobs of ``offering`` whose draw fell in ``epoch``."""
    c = t.jobs.c
    query = select(func.count()).where(c.sample_epoch == epoch, c.offering == offering)
    return int(conn.execute(query).scalar_one())


def drawn(conn: Connection, epoch: int) -> list[tuple[str, float]]:
    """``(job_id, rate)`` of every job whose draw fell in ``epoch``."""
    c = t.jobs.c
    rows = conn.execute(
        select(c.id, c.sample_rate).where(c.sample_epoch == epoch).order_by(c.id)
    ).all()
    return [(row.id, float(row.sample_rate)) for row in rows]


def checked(conn: Connection, job_ids: Iterable[str]) -> set[str]:
    """Which of ``job_ids`` had a check opened."""
    ids = list(job_ids)
    found: set[str] = set()
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = conn.execute(select(t.checks.c.job_id).where(t.checks.c.job_id.in_(chunk)))
        found.update(rows.scalars())
    return found


# reputations ------------------------------------------------------------------------


def reputations(conn: Connection, worker_ids: Iterable[str]) -> dict[str, float]:
    """Each known worker's reputation (absent workers have none yet: 0)."""
    ids = sorted(set(worker_ids))
    if not ids:
        return {}
    c = t.reputations.c
    rows = conn.execute(select(c.worker_id, c.reputation).where(c.worker_id.in_(ids))).all()
    return {row.worker_id: float(row.reputation) for row in rows}


def set_reputation(
    conn: Connection, worker_id: str, reputation: float, clean: bool, epoch: int
) -> None:
    c = t.reputations.c
    row = conn.execute(select(c.clean_epochs).where(c.worker_id == worker_id)).first()
    if row is None:
        conn.execute(
            t.reputations.insert().values(
                worker_id=worker_id,
                reputation=reputation,
                clean_epochs=int(clean),
                updated_epoch=epoch,
            )
        )
        return
    conn.execute(
        update(t.reputations)
        .where(c.worker_id == worker_id)
        .values(
            reputation=reputation,
            clean_epochs=row.clean_epochs + 1 if clean else 0,
            updated_epoch=epoch,
        )
    )


def record_verdict(
    conn: Connection,
    epoch: int,
    worker_id: str,
    *,
    invalid: bool,
    evidence: dict[str, Any],
    now: int,
) -> bool:
    """Store verification's verdict in the caller's transaction; returns the invalid flag kept.

    A verdict already recorded for the epoch (an operator's) is kept under ``"earlier"``
    in the evidence, and an earlier *invalid* stands: verification never clears it.
    """
    c = t.verdicts.c
    where = and_(c.epoch == epoch, c.worker_id == worker_id)
    earlier = conn.execute(select(c.invalid, c.evidence).where(where)).first()
    if earlier is not None:
        invalid = invalid or bool(earlier.invalid)
        evidence = {**evidence, "earlier": earlier.evidence}
        conn.execute(t.verdicts.delete().where(where))
    conn.execute(
        t.verdicts.insert().values(
            epoch=epoch, worker_id=worker_id, invalid=invalid, evidence=evidence, recorded_ms=now
        )
    )
    return invalid

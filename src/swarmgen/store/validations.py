"""Verification rows: sampling seeds, checks and their ballots, panels, reputations.

A check is settled in one place, :meth:`ValidationRepository.settle`: the status, the
penalties of the losing (or absent) validators and the withdrawal of the seats nobody
filled move together, whether the panel decided as ballots arrived or was settled (or
abandoned) at the epoch's close.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import and_, bindparam, exists, func, or_, select, update

from swarmgen.core.jobs import JobState
from swarmgen.core.verification.reliability import SeatRecord
from swarmgen.store import schema as t
from swarmgen.store.base import Repository
from swarmgen.store.jobs import ACTIVE
from swarmgen.store.records import BallotRow, CheckRow, CheckStatus

_CHUNK = 500


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


_MISSED = select(func.count()).where(
    t.missed_seats.c.worker_id == bindparam("worker_id"),
    t.missed_seats.c.epoch == bindparam("epoch"),
)
"""How many seats a worker let expire in an epoch: built once."""
_MISSED_NOW = select(func.count()).where(
    t.missed_seats.c.worker_id == bindparam("worker_id"),
    t.missed_seats.c.epoch
    == select(t.epochs.c.epoch).where(t.epochs.c.closed_ms.is_(None)).scalar_subquery(),
)
"""The same in the open epoch, in one statement: every pop asks."""


class ValidationRepository(Repository):
    # seeds --------------------------------------------------------------------------

    def seed_of(self, epoch: int) -> bytes | None:
        """The epoch's secret sampling seed, or ``None`` before it is drawn."""
        c = t.sampling_seeds.c
        value = self.conn.execute(select(c.seed).where(c.epoch == epoch)).scalar()
        return bytes.fromhex(value) if value else None

    def insert_seed(self, epoch: int, seed: bytes, commitment: str, now: int) -> None:
        self.conn.execute(
            t.sampling_seeds.insert().values(
                epoch=epoch, seed=seed.hex(), commitment=commitment, created_ms=now
            )
        )

    # checks -------------------------------------------------------------------------

    def open_check(
        self, job_id: str, worker_id: str, offering: str, *, epoch: int, now: int
    ) -> None:
        self.conn.execute(
            t.checks.insert().values(
                job_id=job_id,
                worker_id=worker_id,
                offering=offering,
                epoch=epoch,
                status=CheckStatus.PENDING.value,
                opened_ms=now,
            )
        )

    def get_check(self, job_id: str) -> CheckRow | None:
        row = self.conn.execute(select(t.checks).where(t.checks.c.job_id == job_id)).first()
        return _check(row) if row else None

    def pending_checks(self) -> list[CheckRow]:
        c = t.checks.c
        rows = self.conn.execute(
            select(t.checks)
            .where(c.status == CheckStatus.PENDING.value)
            .order_by(c.opened_ms, c.job_id)
        ).all()
        return [_check(row) for row in rows]

    def settle(
        self,
        job_id: str,
        status: CheckStatus,
        *,
        epoch: int,
        reason: str,
        now: int,
        penalised: Sequence[str] = (),
    ) -> None:
        """Settle the check of ``job_id``: the one write path for a panel's outcome.

        Records ``status``, marks the ``penalised`` validators (losing side or absent)
        and withdraws the claim's seats still queued (:meth:`withdraw`). Seats already
        leased run on: taking one back from its worker would tell it what it holds.
        """
        self.conn.execute(
            update(t.checks)
            .where(t.checks.c.job_id == job_id)
            .values(status=status.value, decided_epoch=epoch, reason=reason, decided_ms=now)
        )
        if penalised:
            c = t.ballots.c
            self.conn.execute(
                update(t.ballots)
                .where(c.job_id == job_id, c.validator_id.in_(list(penalised)))
                .values(penalised=True)
            )
        self.withdraw(job_id, now)

    def withdraw(self, job_id: str, now: int) -> int:
        """Cancel the validation jobs of ``job_id`` still queued; returns how many."""
        j = t.jobs.c
        return self.conn.execute(
            update(t.jobs)
            .where(j.validates == job_id, j.state == JobState.QUEUED.value)
            .values(state=JobState.CANCELLED.value, updated_ms=now, lease_expires_ms=None)
        ).rowcount

    def outstanding(self, job_id: str) -> int:
        """Validation jobs of ``job_id`` still queued or leased."""
        c = t.jobs.c
        query = select(func.count()).where(c.validates == job_id, c.state.in_(ACTIVE))
        return int(self.conn.execute(query).scalar_one())

    def seats_in_play(self) -> int:
        """Validation seats a worker holds or has been drawn for and has still to vote on,
        on panels still pending.

        Seats waiting undrawn (nobody eligible) are not counted: they are filled only when
        eligible workers appear, else the panel settles at the close on the votes cast.
        Nor are seats still leased on a panel that settled meanwhile (they run on, their
        votes no longer needed).
        """
        c, k = t.jobs.c, t.checks.c
        drawn = and_(c.state == JobState.QUEUED.value, c.assigned_worker.is_not(None))
        pending = exists().where(k.job_id == c.validates, k.status == CheckStatus.PENDING.value)
        query = select(func.count()).where(
            c.validates.is_not(None), or_(c.state == JobState.LEASED.value, drawn), pending
        )
        return int(self.conn.execute(query).scalar_one())

    def decided_in(self, epoch: int) -> list[CheckRow]:
        """Checks settled (upheld or rejected) during ``epoch``."""
        c = t.checks.c
        rows = self.conn.execute(
            select(t.checks)
            .where(
                c.decided_epoch == epoch,
                c.status.in_([CheckStatus.UPHELD.value, CheckStatus.REJECTED.value]),
            )
            .order_by(c.job_id)
        ).all()
        return [_check(row) for row in rows]

    def checked(self, job_ids: Iterable[str]) -> set[str]:
        """Which of ``job_ids`` had a check opened."""
        ids = list(job_ids)
        found: set[str] = set()
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            rows = self.conn.execute(select(t.checks.c.job_id).where(t.checks.c.job_id.in_(chunk)))
            found.update(rows.scalars())
        return found

    # ballots ------------------------------------------------------------------------

    def ballots(self, job_id: str) -> list[BallotRow]:
        """The panel's ballots on ``job_id`` in arrival order."""
        c = t.ballots.c
        rows = self.conn.execute(
            select(t.ballots).where(c.job_id == job_id).order_by(c.position)
        ).all()
        return [_ballot(row) for row in rows]

    def ballots_of_checks(self, job_ids: Sequence[str]) -> list[BallotRow]:
        if not job_ids:
            return []
        c = t.ballots.c
        rows = self.conn.execute(
            select(t.ballots).where(c.job_id.in_(list(job_ids))).order_by(c.job_id, c.position)
        ).all()
        return [_ballot(row) for row in rows]

    def add_ballot(
        self,
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
        voted = self.conn.execute(
            select(c.position).where(c.job_id == job_id, c.validator_id == validator_id)
        ).first()
        if voted is not None:
            return False
        position = self.conn.execute(select(func.count()).where(c.job_id == job_id)).scalar_one()
        finite = distance if distance is not None and math.isfinite(distance) else None
        self.conn.execute(
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

    # missed seats -------------------------------------------------------------------

    def record_miss(
        self, job_id: str, worker_id: str, checked_job_id: str, *, epoch: int, now: int
    ) -> bool:
        """Record that ``worker_id`` let validation seat ``job_id`` expire; ``False`` if
        that miss is already recorded. A miss is never a ballot: it costs reliability,
        not honesty."""
        m = t.missed_seats.c
        known = self.conn.execute(
            select(m.job_id).where(m.job_id == job_id, m.worker_id == worker_id)
        ).first()
        if known is not None:
            return False
        self.conn.execute(
            t.missed_seats.insert().values(
                job_id=job_id,
                worker_id=worker_id,
                checked_job_id=checked_job_id,
                epoch=epoch,
                recorded_ms=now,
            )
        )
        return True

    def missed_count(self, worker_id: str, epoch: int | None = None) -> int:
        """Seats ``worker_id`` let expire during ``epoch``, or (None) during the open
        epoch: none before the first."""
        if epoch is None:
            return int(self.conn.execute(_MISSED_NOW, {"worker_id": worker_id}).scalar_one())
        params = {"worker_id": worker_id, "epoch": epoch}
        return int(self.conn.execute(_MISSED, params).scalar_one())

    def seat_records(self, epoch: int) -> dict[str, SeatRecord]:
        """Every worker's seats in ``epoch``: missed, and served (ballots it cast)."""
        m, b = t.missed_seats.c, t.ballots.c
        missed = self.conn.execute(
            select(m.worker_id, func.count()).where(m.epoch == epoch).group_by(m.worker_id)
        ).all()
        served = self.conn.execute(
            select(b.validator_id, func.count()).where(b.epoch == epoch).group_by(b.validator_id)
        ).all()
        counts: dict[str, list[int]] = {}
        for worker_id, n in missed:
            counts.setdefault(worker_id, [0, 0])[0] = int(n)
        for worker_id, n in served:
            counts.setdefault(worker_id, [0, 0])[1] = int(n)
        return {w: SeatRecord(missed=c[0], served=c[1]) for w, c in sorted(counts.items())}

    # reputations --------------------------------------------------------------------

    def reputations(self, worker_ids: Iterable[str]) -> dict[str, float]:
        """Each worker's reputation, which is its owner's: the lowest reputation among
        the owner's keys that have one, so a new key starts no better than its owner's
        worst. A key without an owner is its own owner. Workers with nothing on record
        are left out (a caller reads them as 0)."""
        ids = sorted(set(worker_ids))
        if not ids:
            return {}
        w, r = t.workers.c, t.reputations.c
        owners: dict[str, str] = {}
        for start in range(0, len(ids), _CHUNK):
            rows = self.conn.execute(
                select(w.id, w.owner_id).where(w.id.in_(ids[start : start + _CHUNK]))
            ).all()
            owners.update({row.id: row.owner_id for row in rows if row.owner_id})
        own = {
            row.worker_id: float(row.reputation)
            for start in range(0, len(ids), _CHUNK)
            for row in self.conn.execute(
                select(r.worker_id, r.reputation).where(
                    r.worker_id.in_(ids[start : start + _CHUNK])
                )
            ).all()
        }
        lowest: dict[str, float] = {}
        wanted = sorted(set(owners.values()))
        for start in range(0, len(wanted), _CHUNK):
            rows = self.conn.execute(
                select(w.owner_id, func.min(r.reputation))
                .select_from(t.reputations.join(t.workers, w.id == r.worker_id))
                .where(w.owner_id.in_(wanted[start : start + _CHUNK]))
                .group_by(w.owner_id)
            ).all()
            lowest.update({owner: float(value) for owner, value in rows})
        out: dict[str, float] = {}
        for worker_id in ids:
            owner = owners.get(worker_id)
            found = lowest.get(owner) if owner is not None else own.get(worker_id)
            if found is not None:
                out[worker_id] = found
        return out

    def set_reputation(self, worker_id: str, reputation: float, clean: bool, epoch: int) -> None:
        c = t.reputations.c
        row = self.conn.execute(select(c.clean_epochs).where(c.worker_id == worker_id)).first()
        if row is None:
            self.conn.execute(
                t.reputations.insert().values(
                    worker_id=worker_id,
                    reputation=reputation,
                    clean_epochs=int(clean),
                    updated_epoch=epoch,
                )
            )
            return
        self.conn.execute(
            update(t.reputations)
            .where(c.worker_id == worker_id)
            .values(
                reputation=reputation,
                clean_epochs=row.clean_epochs + 1 if clean else 0,
                updated_epoch=epoch,
            )
        )

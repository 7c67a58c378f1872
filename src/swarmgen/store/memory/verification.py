"""Sampling seeds, checks, ballots, reputations and verdicts, in memory."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from swarmgen.core.jobs import JobState
from swarmgen.core.verification.reliability import SeatRecord
from swarmgen.core.verification.verdicts import standing_invalid
from swarmgen.store.memory.tables import Tables
from swarmgen.store.records import BallotRow, CheckRow, CheckStatus, MissedSeat

_ACTIVE = (JobState.QUEUED, JobState.LEASED)
_DECIDED = (CheckStatus.UPHELD, CheckStatus.REJECTED)


class MemoryValidations:
    def __init__(self, tables: Tables) -> None:
        self.t = tables

    def seed_of(self, epoch: int) -> bytes | None:
        found = self.t.seeds.get(epoch)
        return found[0] if found else None

    def insert_seed(self, epoch: int, seed: bytes, commitment: str, now: int) -> None:
        if epoch in self.t.seeds:
            raise ValueError(f"epoch {epoch} has a seed")
        self.t.seeds[epoch] = (seed, commitment)

    def open_check(
        self, job_id: str, worker_id: str, offering: str, *, epoch: int, now: int
    ) -> None:
        if job_id in self.t.checks:
            raise ValueError(f"job {job_id} has a check")
        check = CheckRow(job_id, worker_id, offering, epoch, CheckStatus.PENDING, None, None)
        self.t.checks[job_id] = (check, now)

    def get_check(self, job_id: str) -> CheckRow | None:
        found = self.t.checks.get(job_id)
        return found[0] if found else None

    def pending_checks(self) -> list[CheckRow]:
        pending = [
            (opened, check.job_id, check)
            for check, opened in self.t.checks.values()
            if check.status is CheckStatus.PENDING
        ]
        return [check for *_, check in sorted(pending, key=lambda p: (p[0], p[1]))]

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
        if job_id in self.t.checks:
            check, opened = self.t.checks[job_id]
            settled = replace(check, status=status, decided_epoch=epoch, reason=reason)
            self.t.checks[job_id] = (settled, opened)
        self.t.ballots[job_id] = [
            replace(b, penalised=True) if b.validator_id in penalised else b
            for b in self.t.ballots.get(job_id, [])
        ]
        self.withdraw(job_id, now)

    def withdraw(self, job_id: str, now: int) -> int:
        queued = [
            j for j in self.t.jobs.values() if j.validates == job_id and j.state is JobState.QUEUED
        ]
        for job in queued:
            self.t.jobs[job.id] = replace(
                job, state=JobState.CANCELLED, updated_ms=now, lease_expires_ms=None
            )
        return len(queued)

    def outstanding(self, job_id: str) -> int:
        return sum(1 for j in self.t.jobs.values() if j.validates == job_id and j.state in _ACTIVE)

    def seats_in_play(self) -> int:
        return sum(
            1
            for j in self.t.jobs.values()
            if j.validates is not None
            and (
                j.state is JobState.LEASED
                or (j.state is JobState.QUEUED and j.assigned_worker is not None)
            )
            and j.validates in self.t.checks
            and self.t.checks[j.validates][0].status is CheckStatus.PENDING
        )

    def decided_in(self, epoch: int) -> list[CheckRow]:
        return sorted(
            (
                c
                for c, _ in self.t.checks.values()
                if c.decided_epoch == epoch and c.status in _DECIDED
            ),
            key=lambda c: c.job_id,
        )

    def checked(self, job_ids: Iterable[str]) -> set[str]:
        return {job_id for job_id in job_ids if job_id in self.t.checks}

    def ballots(self, job_id: str) -> list[BallotRow]:
        return list(self.t.ballots.get(job_id, []))

    def ballots_of_checks(self, job_ids: Sequence[str]) -> list[BallotRow]:
        return [b for job_id in sorted(set(job_ids)) for b in self.t.ballots.get(job_id, [])]

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
        panel = self.t.ballots.setdefault(job_id, [])
        if any(b.validator_id == validator_id for b in panel):
            return False
        finite = distance if distance is not None and math.isfinite(distance) else None
        panel.append(
            BallotRow(
                job_id,
                validator_id,
                validation_job_id,
                len(panel),
                vote,
                reason[:64],
                detail,
                finite,
                epoch,
                False,
            )
        )
        return True

    def record_miss(
        self, job_id: str, worker_id: str, checked_job_id: str, *, epoch: int, now: int
    ) -> bool:
        if any(m.job_id == job_id and m.worker_id == worker_id for m in self.t.missed_seats):
            return False
        self.t.missed_seats.append(MissedSeat(job_id, worker_id, checked_job_id, epoch, now))
        return True

    def missed_count(self, worker_id: str, epoch: int | None = None) -> int:
        if epoch is None:
            opened = [n for n, row in self.t.epochs.items() if row.closed_ms is None]
            if not opened:
                return 0
            epoch = opened[0]
        return sum(1 for m in self.t.missed_seats if m.worker_id == worker_id and m.epoch == epoch)

    def seat_records(self, epoch: int) -> dict[str, SeatRecord]:
        missed: dict[str, int] = {}
        served: dict[str, int] = {}
        for m in self.t.missed_seats:
            if m.epoch == epoch:
                missed[m.worker_id] = missed.get(m.worker_id, 0) + 1
        for panel in self.t.ballots.values():
            for b in panel:
                if b.epoch == epoch:
                    served[b.validator_id] = served.get(b.validator_id, 0) + 1
        return {
            w: SeatRecord(missed=missed.get(w, 0), served=served.get(w, 0))
            for w in sorted(missed.keys() | served.keys())
        }

    def reputations(self, worker_ids: Iterable[str]) -> dict[str, float]:
        lowest: dict[str, float] = {}
        for worker_id, (reputation, _) in self.t.reputations.items():
            record = self.t.workers.get(worker_id)
            if record is not None and record.owner_id:
                known = lowest.get(record.owner_id)
                lowest[record.owner_id] = reputation if known is None else min(known, reputation)
        out: dict[str, float] = {}
        for worker_id in set(worker_ids):
            record = self.t.workers.get(worker_id)
            if record is not None and record.owner_id:
                found = lowest.get(record.owner_id)
            else:
                own = self.t.reputations.get(worker_id)
                found = own[0] if own is not None else None
            if found is not None:
                out[worker_id] = found
        return out

    def set_reputation(self, worker_id: str, reputation: float, clean: bool, epoch: int) -> None:
        previous = self.t.reputations.get(worker_id)
        if previous is None:
            self.t.reputations[worker_id] = (reputation, int(clean))
        else:
            self.t.reputations[worker_id] = (reputation, previous[1] + 1 if clean else 0)


class MemoryVerdicts:
    def __init__(self, tables: Tables) -> None:
        self.t = tables

    def record(
        self,
        epoch: int,
        worker_id: str,
        *,
        invalid: bool,
        evidence: Mapping[str, Any],
        now: int,
    ) -> bool:
        earlier = self.t.verdicts.get((epoch, worker_id))
        kept = dict(evidence)
        if earlier is not None:
            kept["earlier"] = earlier[1]
        invalid = standing_invalid(earlier[0] if earlier else None, invalid)
        self.t.verdicts[(epoch, worker_id)] = (invalid, kept)
        return invalid

    def invalid_workers(self, epoch: int) -> list[str]:
        return sorted(
            w for (e, w), (invalid, _) in self.t.verdicts.items() if e == epoch and invalid
        )

    def get(self, epoch: int, worker_id: str) -> tuple[bool, dict[str, Any]] | None:
        found = self.t.verdicts.get((epoch, worker_id))
        return (found[0], dict(found[1])) if found else None

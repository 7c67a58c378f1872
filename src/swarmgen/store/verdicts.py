"""Epoch verdicts on workers: the one write path, under the core's rule.

Verification records a verdict for every worker it judged when an epoch closes, and an
operator may record one before that. Both go through :meth:`VerdictRepository.record`,
which applies :func:`swarmgen.core.verification.verdicts.standing_invalid` (an earlier
invalid verdict stands) and keeps the earlier evidence under ``"earlier"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import and_, select

from swarmgen.core.verification.verdicts import standing_invalid
from swarmgen.store import schema as t
from swarmgen.store.base import Repository


class VerdictRepository(Repository):
    def record(
        self,
        epoch: int,
        worker_id: str,
        *,
        invalid: bool,
        evidence: Mapping[str, Any],
        now: int,
    ) -> bool:
        """Store the verdict on ``worker_id`` for ``epoch``; returns the invalid flag kept."""
        c = t.verdicts.c
        where = and_(c.epoch == epoch, c.worker_id == worker_id)
        earlier = self.conn.execute(select(c.invalid, c.evidence).where(where)).first()
        kept = dict(evidence)
        if earlier is not None:
            invalid = standing_invalid(bool(earlier.invalid), invalid)
            kept["earlier"] = earlier.evidence
            self.conn.execute(t.verdicts.delete().where(where))
        else:
            invalid = standing_invalid(None, invalid)
        self.conn.execute(
            t.verdicts.insert().values(
                epoch=epoch, worker_id=worker_id, invalid=invalid, evidence=kept, recorded_ms=now
            )
        )
        return invalid

    def invalid_workers(self, epoch: int) -> list[str]:
        """Workers standing invalid for ``epoch``, sorted."""
        c = t.verdicts.c
        rows = self.conn.execute(
            select(c.worker_id).where(c.epoch == epoch, c.invalid.is_(True)).order_by(c.worker_id)
        ).all()
        return [row.worker_id for row in rows]

    def get(self, epoch: int, worker_id: str) -> tuple[bool, dict[str, Any]] | None:
        """``(invalid, evidence)`` recorded for ``worker_id`` in ``epoch``, if any."""
        c = t.verdicts.c
        row = self.conn.execute(
            select(c.invalid, c.evidence).where(c.epoch == epoch, c.worker_id == worker_id)
        ).first()
        return (bool(row.invalid), dict(row.evidence)) if row else None

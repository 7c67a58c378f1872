"""Where a finished job came from: its worker, its signed receipt and its check, as a
requester may see them.

A requester learns whether its job was checked only once the epoch that drew it is
published (:class:`~swarmgen.coordinator.auditing.Publication`): until then every
completed job reads ``optimistic``, so a requester (who may also run a worker) cannot
learn which jobs the open epoch's secret seed drew for re-execution.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from swarmgen.coordinator.auditing import Publication
from swarmgen.core.canonical import digest
from swarmgen.core.jobs import JobState
from swarmgen.store.port import Store

OPTIMISTIC = "optimistic"
"""Accepted and paid out to the worker as pending; checks, if any, are not public yet."""
UNCHECKED = "unchecked"
"""Its epoch is published and the job was not drawn for a check."""


@dataclass(frozen=True)
class JobProvenance:
    job_id: str
    worker_id: str | None
    receipt_digest: str | None
    """Digest of the worker's signed receipt (canonical JSON), as the ledger embeds it."""
    verification: str
    """``optimistic``, ``unchecked``, or the published check's ``pending``, ``upheld``,
    ``rejected`` or ``abandoned``; ``none`` for a job that did not complete."""
    receipt: dict[str, Any] | None = None
    """The worker's signed receipt itself, whose digest is above."""


@dataclass
class Provenance:
    store: Store
    publication: Publication

    def of(self, job_id: str) -> JobProvenance:
        published = self.publication.published()
        with self.store.transaction() as tx:
            job = tx.jobs.get(job_id)
            check = tx.validations.get_check(job_id)
        if job.state is not JobState.COMPLETED:
            state = "none"
        elif job.sample_epoch is None or job.sample_epoch > published:
            state = OPTIMISTIC
        else:
            state = check.status.value if check is not None else UNCHECKED
        receipt = digest(job.receipt) if job.receipt is not None else None
        return JobProvenance(job.id, job.worker_id, receipt, state, job.receipt)

"""A worker's result, before its transaction: what must hold of it, and its blobs written.

Everything here runs on what the worker sent and the job as read before the transaction
that completes it (:meth:`~swarmgen.coordinator.workers.WorkerService.submit`), so a
refused result costs no write. The transaction checks the lease again: a result whose
lease lapsed meanwhile is refused there.
"""

from __future__ import annotations

from swarmgen.blobs import BlobStore
from swarmgen.coordinator.domain import Submission
from swarmgen.core.jobs import JobState
from swarmgen.core.modalities import modality, modality_of
from swarmgen.core.outputs import Output
from swarmgen.core.receipts import Receipt
from swarmgen.errors import BadSignature, FieldProblem, InvalidRequest, NotFound, NotLeased
from swarmgen.store.records import Completion, JobRecord


def checked_result(
    worker_id: str, result: Submission, job: JobRecord | None
) -> tuple[Receipt, Output]:
    """``result``'s receipt and decoded output, once everything about it that can be
    checked before the transaction holds: ``job`` (as read) is leased to ``worker_id``,
    the receipt is that worker's, signed, for this job's input and this output."""
    if job is None:
        raise NotFound(f"no job {result.job_id}", job_id=result.job_id)
    if job.worker_id != worker_id or job.state is not JobState.LEASED:
        raise NotLeased(f"job {result.job_id} is not leased to this worker")
    receipt = result.receipt
    if receipt.worker_id != worker_id or receipt.job_id != result.job_id:
        raise BadSignature("receipt names another worker or job")
    if not receipt.verify():
        raise BadSignature("receipt signature does not verify")
    if receipt.input_digest != job.input_digest:
        raise InvalidRequest(
            FieldProblem("receipt.input_digest", "differs from the job's", job.input_digest)
        )
    spec = job.parsed_spec()  # the output is decoded against it: 422 on any mismatch
    output = modality_of(spec).decode_output(spec, result.images, result.text)
    if output.digest() != receipt.output_digest:
        raise InvalidRequest(
            FieldProblem("receipt.output_digest", "differs from the submitted output")
        )
    return receipt, output


def stored(blobs: BlobStore, checked: list[tuple[Receipt, Output]]) -> list[Completion]:
    """The completions of ``checked`` results, every output blob written first, in one
    call to the store (which may write them at once)."""
    groups = [modality(output.kind).output_blobs(output) for _, output in checked]
    keys = iter(blobs.put_many([data for group in groups for data in group]))
    return [
        Completion(
            job_id=receipt.job_id,
            outputs=[next(keys) for _ in group],
            output_digest=receipt.output_digest,
            receipt=receipt.to_dict(),
            timings=dict(receipt.timings),
        )
        for (receipt, _), group in zip(checked, groups, strict=True)
    ]

"""Wire to domain and back: the native protocol's models and the services' types."""

from __future__ import annotations

from dataclasses import asdict

from swarmgen.coordinator.domain import (
    Accepted,
    Capabilities,
    JobRequest,
    JobStatus,
    Quote,
    Registration,
    Submission,
    SubmitOutcome,
)
from swarmgen.core.jobs import Spec
from swarmgen.core.modalities import modality
from swarmgen.core.receipts import Receipt
from swarmgen.protocol import (
    Assignment,
    CapabilitiesIn,
    ImageJobIn,
    JobAccepted,
    JobView,
    QuoteOut,
    RegisterOut,
    Rejected,
    ResultIn,
    SubmitOut,
    TextJobIn,
)
from swarmgen.store.records import JobRecord


def spec(job_in: ImageJobIn | TextJobIn) -> Spec:
    """The core spec a wire job describes; its seed stays unset when none was given."""
    return modality(job_in.kind).spec_from_wire(job_in.model_dump(), job_in.seed)


def job_request(job_in: ImageJobIn | TextJobIn) -> JobRequest:
    return JobRequest(model=job_in.model, spec=spec(job_in))


def accepted(job: Accepted) -> JobAccepted:
    return JobAccepted(**vars(job))  # flat: asdict's deep copy is for nothing, per job


def quote(offer: Quote) -> QuoteOut:
    return QuoteOut(**asdict(offer))


def job_view(status: JobStatus, jobs_url: str) -> JobView:
    """A job's view; its result link is built here, under the face's own prefix."""
    fields = dict(vars(status))  # flat: asdict's deep copy is for nothing, per job listed
    has_result = fields.pop("has_result")
    result_url = f"{jobs_url}/{status.id}/result" if has_result else None
    return JobView(**fields, result_url=result_url)


def capabilities(caps: CapabilitiesIn) -> Capabilities:
    return Capabilities(tuple(caps.models), caps.max_pixels, caps.max_batch, caps.memory)


def registration(done: Registration) -> RegisterOut:
    return RegisterOut(worker_id=done.worker_id, owner_id=done.owner_id, models=list(done.models))


def assignment(job: JobRecord) -> Assignment:
    return Assignment(
        job_id=job.id,
        model=job.offering,
        spec=job.spec,
        input_digest=job.input_digest,
        lease_expires_ms=job.lease_expires_ms or 0,
        sampling_id=job.sampling_id,
    )


def submission(result: ResultIn) -> Submission:
    return Submission(
        job_id=result.job_id,
        receipt=Receipt(**result.receipt.model_dump()),
        images=tuple(result.images) if result.images is not None else None,
        text=result.text,
    )


def submit_out(outcome: SubmitOutcome) -> SubmitOut:
    return SubmitOut(
        accepted=list(outcome.accepted),
        rejected=[Rejected(job_id=j, code=e.code, message=e.message) for j, e in outcome.rejected],
    )

"""HTTP routes: requesters under ``/api/v1/jobs``, workers under ``/api/v1/workers``."""

from __future__ import annotations

from typing import Annotated, Literal, TypeVar

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import BaseModel, ValidationError

from swarmgen.coordinator.auth import authenticate_requester, authenticate_worker, bearer_token
from swarmgen.coordinator.errors import invalid_from
from swarmgen.coordinator.jobs import JobService
from swarmgen.coordinator.schemas import (
    Ack,
    HeartbeatIn,
    JobAccepted,
    JobBatchAccepted,
    JobBatchIn,
    JobIn,
    JobList,
    JobView,
    PopIn,
    PopOut,
    QuoteOut,
    RegisterIn,
    RegisterOut,
    ReleaseIn,
    SubmitIn,
    SubmitOut,
)
from swarmgen.coordinator.workers import WorkerService
from swarmgen.core.jobs import JobState
from swarmgen.store.records import UserRecord

requesters = APIRouter(prefix="/api/v1/jobs", tags=["jobs"])
workers = APIRouter(prefix="/api/v1/workers", tags=["workers"])

M = TypeVar("M", bound=BaseModel)


def job_service(request: Request) -> JobService:
    service: JobService = request.app.state.jobs
    return service


def worker_service(request: Request) -> WorkerService:
    service: WorkerService = request.app.state.workers
    return service


def requester(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> UserRecord:
    anonymous = request.app.state.settings.anonymous_key
    if anonymous and bearer_token(authorization) == anonymous:
        user: UserRecord = request.app.state.credits.anonymous()
        return user
    return authenticate_requester(request.app.state.store, authorization)


Jobs = Annotated[JobService, Depends(job_service)]
User = Annotated[UserRecord, Depends(requester)]


@requesters.post("", status_code=202, response_model=JobAccepted)
def submit_job(job: JobIn, user: User, jobs: Jobs) -> JobAccepted:
    """Queue an image or text job; its price is reserved and its seed fixed."""
    return jobs.submit(user, job)


@requesters.post("/quote", response_model=QuoteOut)
def quote_job(job: JobIn, user: User, jobs: Jobs) -> QuoteOut:
    """What a job would cost and whether your balance covers it; nothing is queued."""
    return jobs.quote(user, job)


@requesters.get("", response_model=JobList)
def list_jobs(
    user: User,
    jobs: Jobs,
    state: JobState | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    updated_since: Annotated[
        int | None,
        Query(ge=0, description="Only jobs changed at or after this time (ms), oldest first."),
    ] = None,
) -> JobList:
    """Your jobs, newest first; or, with ``updated_since``, a feed of what changed."""
    return JobList(jobs=jobs.list(user, state, limit, updated_since))


@requesters.post("/batch", status_code=202, response_model=JobBatchAccepted)
def submit_jobs(batch: JobBatchIn, user: User, jobs: Jobs) -> JobBatchAccepted:
    """Queue up to 64 jobs at once, all or none (one reservation of their total price)."""
    return JobBatchAccepted(jobs=jobs.submit_many(user, batch.jobs))


@requesters.get("/{job_id}", response_model=JobView)
async def job_status(
    job_id: str,
    user: User,
    jobs: Jobs,
    wait: Annotated[float, Query(ge=0, le=60, description="Seconds to wait for a result.")] = 0,
) -> JobView:
    """A job's state; with ``wait``, a long poll that returns as soon as it is final."""
    return await jobs.status(user, job_id, wait)


@requesters.get("/{job_id}/result")
def job_result(
    job_id: str,
    user: User,
    jobs: Jobs,
    index: Annotated[int, Query(ge=0, lt=16)] = 0,
    format: Literal["raw", "json"] = "raw",
) -> Response:
    """PNG bytes of image ``index``, or the text (``format=json``: tokens and logprobs)."""
    data, media_type = jobs.result(user, job_id, index, format)
    return Response(content=data, media_type=media_type)


@requesters.post("/{job_id}/cancel", response_model=JobView)
def cancel_job(job_id: str, user: User, jobs: Jobs) -> JobView:
    """Withdraw a job that has not completed."""
    return jobs.cancel(user, job_id)


# workers ----------------------------------------------------------------------------


async def signed(request: Request, model: type[M]) -> tuple[str, M]:
    """Authenticate a signed worker request and parse its body as ``model``."""
    body = await request.body()
    state = request.app.state
    worker_id = authenticate_worker(
        state.store,
        state.clock,
        headers=request.headers,
        method=request.method,
        path=request.url.path,
        body=body,
        skew_s=state.settings.clock_skew_s,
    )
    try:
        return worker_id, model.model_validate_json(body or b"{}")
    except ValidationError as exc:
        raise invalid_from(exc) from None


Workers = Annotated[WorkerService, Depends(worker_service)]


@workers.post("/register", response_model=RegisterOut)
async def register(request: Request, service: Workers) -> RegisterOut:
    """Register a worker key with its capabilities; an owner's API key binds it to them."""
    worker_id, body = await signed(request, RegisterIn)
    owner = None
    if bearer_token(request.headers.get("authorization")):
        owner = authenticate_requester(request.app.state.store, request.headers["authorization"])
    return service.register(worker_id, owner, body)


@workers.post("/pop", response_model=PopOut)
async def pop(request: Request, service: Workers) -> PopOut:
    """Lease jobs that fit this worker; long-polls up to ``wait_s``."""
    worker_id, body = await signed(request, PopIn)
    return await service.pop(worker_id, body)


@workers.post("/submit", response_model=SubmitOut)
async def submit_results(request: Request, service: Workers) -> SubmitOut:
    """Results with signed receipts for jobs leased to this worker."""
    worker_id, body = await signed(request, SubmitIn)
    return await service.submit(worker_id, body)


@workers.post("/heartbeat", response_model=Ack)
async def heartbeat(request: Request, service: Workers) -> Ack:
    """Liveness; extends the leases of the jobs the worker is still running."""
    worker_id, body = await signed(request, HeartbeatIn)
    return Ack(count=service.heartbeat(worker_id, body))


@workers.post("/release", response_model=Ack)
async def release(request: Request, service: Workers) -> Ack:
    """Hand leased jobs back (e.g. on shutdown); they are queued again at once."""
    worker_id, body = await signed(request, ReleaseIn)
    return Ack(count=service.release(worker_id, body))

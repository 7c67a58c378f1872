"""Requester routes: submit, quote, list, follow, fetch and cancel jobs."""

# No ``from __future__ import annotations``: FastAPI must see the route-local ``User``
# dependency type itself, not a string it cannot resolve from module globals.

import base64
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.responses import RedirectResponse

from swarmgen.coordinator.faces.hangup import HUNG_UP, HungUp, unless_hung_up
from swarmgen.coordinator.faces.native import convert
from swarmgen.coordinator.faces.native.callers import Callers
from swarmgen.coordinator.faces.native.openapi import REQUESTER, errors, media
from swarmgen.coordinator.faces.threads import threaded
from swarmgen.core.jobs import JobState
from swarmgen.protocol import (
    INT64_MAX,
    JobAccepted,
    JobBatchAccepted,
    JobBatchIn,
    JobIn,
    JobList,
    JobView,
    QuoteOut,
)
from swarmgen.protocol.bounds import PLAIN
from swarmgen.protocol.jobs import MAX_LIST
from swarmgen.store.records import UserRecord

JobId = Annotated[
    str, Path(min_length=1, max_length=64, pattern=PLAIN, description="The job's id.")
]

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="A key of your choosing (1-255 visible ASCII characters) naming this "
        "submit: a retry with the same key and body within the window gets the first "
        "answer's jobs and is not charged again; the same key with another body is 409.",
    ),
]


def router(callers: Callers, prefix: str, route_class: type) -> APIRouter:
    """Routes under ``prefix`` (e.g. ``/api/v1/jobs``) on ``callers``' job service."""
    jobs = callers.services.jobs
    observer = callers.services.observer
    api = APIRouter(prefix=prefix, tags=["jobs"], route_class=route_class, responses=REQUESTER)
    User = Annotated[UserRecord, Depends(callers.requester)]

    @api.post("", status_code=202, response_model=JobAccepted, responses=errors(402, 409, 429))
    @threaded
    def submit_job(job: JobIn, user: User, idempotency_key: IdempotencyKey = None) -> JobAccepted:
        """Queue an image or text job; its price is reserved and its seed fixed."""
        accepted = jobs.submit(user, convert.job_request(job), idempotency_key)
        observer.on_submit(user.id, [(job.model, accepted.id)], "native")
        return convert.accepted(accepted)

    @api.post("/quote", response_model=QuoteOut)
    @threaded
    def quote_job(job: JobIn, user: User) -> QuoteOut:
        """What a job would cost and whether your balance covers it; nothing is queued."""
        return convert.quote(jobs.quote(user, convert.job_request(job)))

    @api.get("", response_model=JobList, responses=errors(403))
    @threaded
    def list_jobs(
        user: User,
        state: JobState | None = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIST)] = 50,
        updated_since: Annotated[
            int | None,
            Query(
                ge=0,
                le=INT64_MAX,
                description="Only jobs changed at or after this time (ms), oldest first. "
                "Times are taken before commit, so this feed can miss a change; prefer "
                "``changed_after``.",
            ),
        ] = None,
        changed_after: Annotated[
            int | None,
            Query(
                ge=0,
                le=INT64_MAX,
                description="Only jobs whose ``change_seq`` is above this, in commit order: "
                "a feed that never skips a change. Start at 0; pass the largest "
                "``change_seq`` seen.",
            ),
        ] = None,
    ) -> JobList:
        """Your jobs, newest first; or, with ``changed_after``, a feed of what changed.

        Refused (403) to the anonymous key: anonymous jobs are reachable by id only.
        """
        found = jobs.list(user, state, limit, updated_since, changed_after)
        return JobList(jobs=[convert.job_view(j, prefix) for j in found])

    @api.post(
        "/batch",
        status_code=202,
        response_model=JobBatchAccepted,
        responses=errors(402, 409, 429),
    )
    @threaded
    def submit_jobs(
        batch: JobBatchIn, user: User, idempotency_key: IdempotencyKey = None
    ) -> JobBatchAccepted:
        """Queue up to 64 jobs at once, all or none (one reservation of their total price)."""
        requests = [convert.job_request(job) for job in batch.jobs]
        accepted = jobs.submit_many(user, requests, idempotency_key)
        submitted = [(job.model, one.id) for job, one in zip(batch.jobs, accepted, strict=True)]
        observer.on_submit(user.id, submitted, "native")
        return JobBatchAccepted(jobs=[convert.accepted(a) for a in accepted])

    @api.get("/{job_id}", response_model=JobView, responses=errors(404))
    async def job_status(
        job_id: JobId,
        user: User,
        request: Request,
        wait: Annotated[float, Query(ge=0, le=60, description="Seconds to wait for a result.")] = 0,
    ) -> JobView | Response:
        """A job's state; with ``wait``, a long poll that returns as soon as it is final,
        or as soon as its client hangs up."""
        if not wait:  # one read: nothing to watch the connection for
            return convert.job_view(await jobs.status(user, job_id, 0), prefix)
        try:
            status = await unless_hung_up(request, jobs.status(user, job_id, wait))
        except HungUp:  # nobody reads this answer
            return Response(status_code=HUNG_UP)
        return convert.job_view(status, prefix)

    @api.get(
        "/{job_id}/result",
        response_class=Response,
        responses={
            **media(
                "PNG bytes, plain text, or (format=json) tokens and logprobs.",
                "image/png",
                "text/plain",
                "application/json",
            ),
            307: {"description": "The result's blob at a presigned link (result_redirect_s)."},
            **errors(404, 409),
        },
    )
    @threaded
    def job_result(
        job_id: JobId,
        user: User,
        index: Annotated[int, Query(ge=0, lt=16)] = 0,
        format: Literal["raw", "json"] = "raw",
    ) -> Response:
        """PNG bytes of image ``index``, or the text (``format=json``: tokens and logprobs).

        Where the coordinator is set to (``result_redirect_s``), a 307 to a presigned link
        to the blob in the bucket instead."""
        link = jobs.result_link(user, job_id, index, format)
        if link is not None:
            url, key = link
            digest = base64.b64encode(bytes.fromhex(key)).decode("ascii")
            # RFC 9530: the client checks what the bucket serves against the digest stated here
            headers = {"Repr-Digest": f"sha-256=:{digest}:"}
            return RedirectResponse(url, status_code=307, headers=headers)
        data, media_type = jobs.result(user, job_id, index, format)
        return Response(content=data, media_type=media_type)

    @api.post("/{job_id}/cancel", response_model=JobView, responses=errors(403, 404, 409))
    @threaded
    def cancel_job(job_id: JobId, user: User) -> JobView:
        """Withdraw a job that has not completed (not with the anonymous key)."""
        return convert.job_view(jobs.cancel(user, job_id), prefix)

    return api

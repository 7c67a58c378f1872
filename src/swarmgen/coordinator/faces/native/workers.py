"""Worker routes: register, pop, submit, heartbeat, release; every request signed.

The routes are coroutines (they read the raw body to check its signature), so each
blocking service call runs in the thread pool; pop and submit are coroutines that do so
themselves.
"""

from __future__ import annotations

import time

from fastapi import APIRouter, Request

from swarmgen.coordinator.faces.hangup import HungUp, unless_hung_up
from swarmgen.coordinator.faces.native import convert
from swarmgen.coordinator.faces.native.callers import Callers
from swarmgen.coordinator.faces.native.openapi import WORKER, errors, signed_body
from swarmgen.coordinator.faces.threads import in_thread
from swarmgen.errors import SwarmgenError
from swarmgen.protocol import (
    Ack,
    HeartbeatIn,
    PopIn,
    PopOut,
    RegisterIn,
    RegisterOut,
    ReleaseIn,
    SubmitIn,
    SubmitOut,
)


def router(callers: Callers, prefix: str, route_class: type) -> APIRouter:
    """Routes under ``prefix`` (e.g. ``/api/v1/workers``) on the worker service."""
    service = callers.services.workers
    observer = callers.services.observer
    api = APIRouter(prefix=prefix, tags=["workers"], route_class=route_class, responses=WORKER)
    # Routes are matched in order: the hot ones (pop, submit, heartbeat) first.

    @api.post(
        "/pop", response_model=PopOut, responses=errors(403), openapi_extra=signed_body(PopIn)
    )
    async def pop(request: Request) -> PopOut:
        """Lease jobs that fit this worker; long-polls up to ``wait_s``, and no longer
        than the worker stays connected."""
        async with callers.worker(request, PopIn) as (worker_id, body):
            started = time.perf_counter()
            popping = service.pop(worker_id, body.wait_s, body.max_jobs)
            try:  # a pop that does not wait is one lease: nothing to watch the connection for
                leased = await (unless_hung_up(request, popping) if body.wait_s else popping)
            except HungUp:  # nobody reads this answer
                return PopOut(jobs=[])
        observer.on_pop(worker_id, leased, started)
        return PopOut(jobs=[convert.assignment(job) for job in leased])

    @api.post(
        "/submit",
        response_model=SubmitOut,
        responses=errors(404),
        openapi_extra=signed_body(SubmitIn),
    )
    async def submit_results(request: Request) -> SubmitOut:
        """Results with signed receipts for jobs leased to this worker."""
        async with callers.worker(request, SubmitIn) as (worker_id, body):
            results = [convert.submission(result) for result in body.results]
            try:
                outcome = await service.submit(worker_id, results)
            except SwarmgenError as exc:  # every result was refused
                observer.on_results(worker_id, [], [(r.job_id, exc.code) for r in results])
                raise
        refused = [(job_id, error.code) for job_id, error in outcome.rejected]
        observer.on_results(worker_id, outcome.accepted, refused)
        return convert.submit_out(outcome)

    @api.post("/heartbeat", response_model=Ack, openapi_extra=signed_body(HeartbeatIn))
    async def heartbeat(request: Request) -> Ack:
        """Liveness; extends the leases of the jobs the worker is still running."""
        async with callers.worker(request, HeartbeatIn) as (worker_id, body):
            return Ack(count=await in_thread(service.heartbeat, worker_id, body.job_ids))

    @api.post("/release", response_model=Ack, openapi_extra=signed_body(ReleaseIn))
    async def release(request: Request) -> Ack:
        """Hand leased jobs back (e.g. on shutdown); they are queued again at once."""
        async with callers.worker(request, ReleaseIn) as (worker_id, body):
            count = await in_thread(service.release, worker_id, body.job_ids, body.error)
        return Ack(count=count)

    @api.post("/register", response_model=RegisterOut, openapi_extra=signed_body(RegisterIn))
    async def register(request: Request) -> RegisterOut:
        """Register a worker key with its capabilities; an owner's API key binds it to them."""
        async with callers.worker(request, RegisterIn) as (worker_id, body):
            owner = await in_thread(callers.owner, request)
            caps = convert.capabilities(body.capabilities)
            done = await in_thread(service.register, worker_id, owner, body.name, caps)
        return convert.registration(done)

    return api

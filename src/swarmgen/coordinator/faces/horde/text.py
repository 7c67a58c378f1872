"""``/api/v2/generate/text/async`` and ``/generate/text/status/{id}`` on text jobs.

A Horde (KoboldAI-style) text request is one swarmgen text job whose prompt goes to the
model as one user message (the worker applies the model's chat template). The answer is
the generated text, whole: the face keeps no state, so a request's ``stop_sequence`` is
not applied (clients that send one cut the text themselves).
"""

# No ``from __future__ import annotations``: FastAPI reads the parameter annotations.

import asyncio
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from swarmgen.coordinator.domain import JobRequest, JobStatus
from swarmgen.coordinator.faces.horde.errors import FOLLOW, SUBMIT, documented
from swarmgen.coordinator.faces.horde.images import RequestId
from swarmgen.coordinator.faces.horde.requests import Requests, progress
from swarmgen.coordinator.faces.horde.wire import TextIn
from swarmgen.core.jobs import JobState, TextSpec
from swarmgen.core.offerings import Kind
from swarmgen.core.outputs import TextOutput
from swarmgen.store.records import UserRecord


def router(requests: Requests, route_class: type) -> APIRouter:
    api = APIRouter(prefix="/api/v2/generate/text", tags=["horde"], route_class=route_class)
    User = Annotated[UserRecord, Depends(requests.requester)]
    jobs = requests.services.jobs

    @api.post("/async", status_code=202, response_model=None, responses=SUBMIT)
    def generate(body: TextIn, user: User) -> JSONResponse:
        """Queue a text request (202 with its id), or price it (``dry_run``: 200)."""
        params = body.params
        spec = TextSpec(
            prompt=body.prompt,
            max_tokens=params.max_length,
            temperature=params.temperature,
            top_p=params.top_p,
        )
        request = JobRequest(requests.offering(body.models, Kind.TEXT), spec)
        if body.dry_run:
            return JSONResponse(requests.quote(user, request), 200)
        return JSONResponse(requests.submit(user, request), 202)

    def render(owner: UserRecord, status: JobStatus) -> dict[str, Any]:
        """The status with its text (store reads: the routes run this in a thread)."""
        queued = status.state == JobState.QUEUED.value
        answer = progress(status, requests.possible(status.model) if queued else True)
        generations: list[dict[str, Any]] = []
        if status.state == JobState.COMPLETED.value:
            raw = jobs.result(owner, status.id, 0, "json")[0]
            output = TextOutput.from_canonical(json.loads(raw))
            generations.append({
                "text": output.text, "seed": status.seed, "model": status.model, "state": "ok",
                "worker_id": status.worker_id,
                "worker_name": requests.worker_name(status.worker_id), "gen_metadata": [],
            })  # fmt: skip
        return {**answer, "generations": generations}

    @api.get("/status/{id}", responses=FOLLOW)
    async def status(id: RequestId) -> dict[str, Any]:
        """How far the request is, with its text once done (the id is the handle)."""
        owner, job = await requests.follow(id, Kind.TEXT)
        return await asyncio.to_thread(render, owner, job)

    @api.delete("/status/{id}", responses={**FOLLOW, **documented(403)})
    async def cancel(id: RequestId) -> dict[str, Any]:
        """Cancel the request (refunded as any cancel is) and answer its status."""
        owner, job = await requests.cancel(id, Kind.TEXT)
        return await asyncio.to_thread(render, owner, job)

    return api

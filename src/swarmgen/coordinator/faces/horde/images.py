"""``/api/v2/generate/async``, ``/generate/check/{id}`` and ``/generate/status/{id}``.

A Horde image request is one swarmgen image job (its ``n`` images share a worker and a
receipt; image ``i`` has seed ``seed + i``). Images come back as signed, expiring links
(what Horde's default ``r2`` asks for) served by the OpenAI face's link route, or inline
as base64 when the status is asked with ``?r2=false``: the face keeps no state, so the
request's own ``r2`` is not remembered. They are PNGs, where AI Horde sends WebP; its
clients open either.
"""

# No ``from __future__ import annotations``: FastAPI reads the parameter annotations.

import asyncio
import base64
import hashlib
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse

from swarmgen.coordinator.domain import JobRequest, JobStatus
from swarmgen.coordinator.faces.horde.errors import FOLLOW, SUBMIT, documented
from swarmgen.coordinator.faces.horde.requests import Requests, progress
from swarmgen.coordinator.faces.horde.wire import ImageIn
from swarmgen.coordinator.faces.openai.links import Links
from swarmgen.core.jobs import ImageSpec, JobState
from swarmgen.core.offerings import Kind
from swarmgen.store.records import UserRecord

RequestId = Annotated[str, Path(min_length=1, max_length=36, pattern=r"^[0-9a-fA-F-]+$")]


def generation_id(horde_id: str, index: int) -> str:
    """A stable id per image of a request (Horde gives each generation its own)."""
    digest = hashlib.sha256(f"{horde_id}/{index}".encode()).digest()[:16]
    return str(uuid.UUID(bytes=digest, version=4))


def router(requests: Requests, links: Links, route_class: type) -> APIRouter:
    api = APIRouter(prefix="/api/v2/generate", tags=["horde"], route_class=route_class)
    User = Annotated[UserRecord, Depends(requests.requester)]
    jobs = requests.services.jobs

    @api.post("/async", status_code=202, response_model=None, responses=SUBMIT)
    def generate(body: ImageIn, user: User) -> JSONResponse:
        """Queue an image request (202 with its id), or price it (``dry_run``: 200)."""
        params = body.params
        prompt, negative = body.prompts()
        spec = ImageSpec(
            prompt=prompt,
            negative_prompt=negative,
            width=params.width,
            height=params.height,
            steps=params.steps,
            guidance=params.cfg_scale,
            seed=params.seed_value(),
            n=params.n,
        )
        request = JobRequest(requests.offering(body.models, Kind.IMAGE), spec)
        if body.dry_run:
            return JSONResponse(requests.quote(user, request), 200)
        return JSONResponse(requests.submit(user, request), 202)

    def generations(
        owner: UserRecord, status: JobStatus, horde_id: str, r2: bool, base_url: str
    ) -> list[dict[str, Any]]:
        if status.state != JobState.COMPLETED.value:
            return []
        now_s = jobs.clock.now_ms() // 1000
        name = requests.worker_name(status.worker_id)
        out = []
        for index in range(status.outputs):
            if r2:
                img = links.make(base_url, owner.id, status.id, index, now_s)
            else:
                png = jobs.result(owner, status.id, index, "raw")[0]
                img = base64.b64encode(png).decode("ascii")
            seed = (status.seed or 0) + index
            out.append({
                "id": generation_id(horde_id, index), "img": img, "seed": str(seed),
                "censored": False, "model": status.model, "state": "ok",
                "worker_id": status.worker_id, "worker_name": name, "gen_metadata": [],
            })  # fmt: skip
        return out

    def answer(status: JobStatus) -> dict[str, Any]:
        queued = status.state == JobState.QUEUED.value
        return progress(status, requests.possible(status.model) if queued else True)

    def whole(
        owner: UserRecord, status: JobStatus, horde_id: str, r2: bool, base_url: str
    ) -> dict[str, Any]:
        """The status with its images (store reads: the routes run this in a thread)."""
        images = generations(owner, status, horde_id, r2, base_url)
        return {**answer(status), "generations": images, "shared": False}

    @api.get("/check/{id}", responses=FOLLOW)
    async def check(id: RequestId) -> dict[str, Any]:
        """How far the request is (no images; no API key: the id is the handle)."""
        _owner, status = await requests.follow(id, Kind.IMAGE)
        return await asyncio.to_thread(answer, status)

    @api.get("/status/{id}", responses=FOLLOW)
    async def status(id: RequestId, request: Request, r2: bool = True) -> dict[str, Any]:
        """How far the request is, with its images once done (links, or base64 with
        ``?r2=false``)."""
        owner, job = await requests.follow(id, Kind.IMAGE)
        return await asyncio.to_thread(whole, owner, job, id, r2, str(request.base_url))

    @api.delete("/status/{id}", responses={**FOLLOW, **documented(403)})
    async def cancel(id: RequestId, request: Request) -> dict[str, Any]:
        """Cancel the request (refunded as any cancel is) and answer its status."""
        owner, job = await requests.cancel(id, Kind.IMAGE)
        return await asyncio.to_thread(whole, owner, job, id, True, str(request.base_url))

    return api

"""``/v1/images/generations`` on swarmgen's image jobs, and the signed image links.

``n`` images are one job (the job's ``n``), so they share a worker and a receipt.
``size`` must fit the model (multiples of 8, within its pixel limit); ``seed``,
``steps``, ``negative_prompt`` and ``guidance_scale`` are swarmgen's extensions. A
``url`` answer links to :mod:`.links`, which the coordinator serves until it expires.
"""

# No ``from __future__ import annotations``: FastAPI reads the parameter annotations.

import asyncio
import base64
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from swarmgen.coordinator.domain import JobRequest
from swarmgen.coordinator.faces.openai.errors import JOB, documented
from swarmgen.coordinator.faces.openai.links import PATH, Links
from swarmgen.coordinator.faces.openai.running import Runner, swarmgen_extension
from swarmgen.coordinator.faces.openai.wire import ImageIn
from swarmgen.core.jobs import LIMITS, ImageSpec
from swarmgen.core.offerings import Kind
from swarmgen.errors import FieldProblem, InvalidRequest
from swarmgen.protocol.bounds import INT64_MAX, PLAIN
from swarmgen.store.records import UserRecord


def default_model(runner: Runner) -> str:
    """The registry's first image offering, for a request that names none."""
    registry = runner.services.registry
    for offering in registry.all_offerings():
        if registry.entry(offering).kind is Kind.IMAGE:
            return str(offering)
    raise InvalidRequest(FieldProblem("model", "this coordinator offers no image model"))


def router(runner: Runner, links: Links, route_class: type) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["openai"], route_class=route_class)
    User = Annotated[UserRecord, Depends(runner.requester)]

    @api.post("/images/generations", responses=JOB)
    async def generate(body: ImageIn, user: User, request: Request) -> dict[str, Any]:
        """Images from a prompt, as base64 PNGs or as signed links that expire."""
        width, height = body.sides()
        spec = ImageSpec(
            prompt=body.prompt,
            negative_prompt=body.negative_prompt,
            width=width,
            height=height,
            steps=body.steps,
            guidance=body.guidance_scale,
            seed=body.seed,
            n=body.n,
        )
        model = body.model or default_model(runner)
        job_id = await runner.submit(user, JobRequest(model, spec))
        status, provenance = await runner.finish(user, job_id, request)
        now_s = runner.services.jobs.clock.now_ms() // 1000
        data = []
        for index in range(status.outputs):
            if body.response_format == "url":
                base = str(request.base_url)
                data.append({"url": links.make(base, user.id, job_id, index, now_s)})
            else:
                png = await asyncio.to_thread(runner.result, user, job_id, index, "raw")
                data.append({"b64_json": base64.b64encode(png).decode("ascii")})
        return {
            "created": status.created_ms // 1000,
            "data": data,
            "swarmgen": swarmgen_extension(status, provenance),
        }

    @api.get(
        PATH.removeprefix("/v1") + "/{job_id}/{index}",
        response_class=Response,
        responses={
            200: {"content": {"image/png": {}}, "description": "PNG bytes."},
            **documented(400, 403, 404, 409),
        },
    )
    def image(
        job_id: Annotated[str, Path(min_length=1, max_length=64, pattern=PLAIN)],
        index: Annotated[int, Path(ge=0, lt=LIMITS.max_images)],
        u: Annotated[str, Query(min_length=1, max_length=64, pattern=PLAIN)],
        expires: Annotated[int, Query(ge=0, le=INT64_MAX)],
        sig: Annotated[str, Query(min_length=64, max_length=64, pattern="^[0-9a-f]+$")],
    ) -> Response:
        """One generated image behind a signed link (no API key: the link is the key)."""
        now_s = runner.services.jobs.clock.now_ms() // 1000
        links.check(u, job_id, index, expires=expires, sig=sig, now_s=now_s)
        owner = UserRecord(id=u, name="", role="", created_ms=0)  # the service checks ownership
        png = runner.result(owner, job_id, index, "raw")
        return Response(png, media_type="image/png")

    return api

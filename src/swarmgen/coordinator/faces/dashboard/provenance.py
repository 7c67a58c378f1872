"""``GET /playground/provenance/{job_id}``: a job's worker, signed receipt and
verification state, for the requester who sent the key. JSON in the native shape.

The state reads ``optimistic`` until the epoch that drew (or skipped) the job is
published (:mod:`swarmgen.coordinator.provenance`); the playground polls this route to
show it change.
"""

# No ``from __future__ import annotations``: FastAPI reads the parameter annotations.

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path

from swarmgen.coordinator.auth import requester_or_anonymous
from swarmgen.coordinator.faces.dashboard.services import DashboardServices
from swarmgen.coordinator.faces.native.openapi import REQUESTER, errors
from swarmgen.coordinator.faces.threads import in_thread, threaded
from swarmgen.coordinator.settings import CoordinatorSettings
from swarmgen.protocol.bounds import PLAIN
from swarmgen.store.records import UserRecord

PREFIX = "/playground/provenance"


def router(
    services: DashboardServices, settings: CoordinatorSettings, route_class: type
) -> APIRouter:
    api = APIRouter(tags=["dashboard"], route_class=route_class, responses=REQUESTER)

    @threaded
    def requester(authorization: Annotated[str | None, Header()] = None) -> UserRecord:
        return requester_or_anonymous(
            services.store, authorization, settings.anonymous_key, services.credits.anonymous
        )

    @api.get(PREFIX + "/{job_id}", responses=errors(404))
    async def provenance(
        job_id: Annotated[str, Path(min_length=1, max_length=64, pattern=PLAIN)],
        user: Annotated[UserRecord, Depends(requester)],
    ) -> dict[str, Any]:
        """Your job's worker, its signed receipt and where its verification stands."""
        status = await services.jobs.status(user, job_id, 0)  # 404 unless it is yours
        found = await in_thread(services.provenance.of, job_id)
        return {
            "job_id": found.job_id,
            "state": status.state,
            "worker_id": found.worker_id,
            "receipt_digest": found.receipt_digest,
            "receipt": found.receipt,
            "verification": found.verification,
        }

    return api

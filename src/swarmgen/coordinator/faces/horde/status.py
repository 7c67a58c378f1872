"""``/api/v2/status/heartbeat``, ``/status/models`` and ``/find_user``.

``/status/models`` reads the native network view: ``count`` is the workers online for
an offering, ``queued`` its queued jobs, ``jobs`` its queued and running ones,
``performance`` the jobs it completed in the last hour (where AI Horde reports
megapixel-steps per second), ``eta`` the median job time times the queue per worker.
"""

# No ``from __future__ import annotations``: FastAPI reads the parameter annotations.

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query

import swarmgen
from swarmgen.coordinator.faces.horde.errors import documented
from swarmgen.coordinator.faces.horde.requests import Requests, kudos
from swarmgen.coordinator.network import OfferingView
from swarmgen.store.records import UserRecord

Count = Annotated[int | None, Query(ge=0, le=1_000_000)]


def model_status(view: OfferingView) -> dict[str, Any]:
    per_worker = view.queued / max(view.workers_online, 1)
    eta = round(view.median_s * per_worker) if view.median_s is not None else 0
    return {
        "name": view.model,
        "count": view.workers_online,
        "performance": float(view.done_recently),
        "queued": float(view.queued),
        "jobs": float(view.queued + view.running),
        "eta": eta,
        "type": view.kind,
    }


def router(requests: Requests, route_class: type) -> APIRouter:
    api = APIRouter(prefix="/api/v2", tags=["horde"], route_class=route_class)
    services = requests.services

    @api.get("/status/heartbeat", responses=documented(400))
    def heartbeat() -> dict[str, str]:
        """Whether the coordinator answers, and its version."""
        return {"message": "OK", "version": swarmgen.__version__}

    @api.get("/status/models", responses=documented(400))
    def models(
        type: Literal["image", "text"] = "image",
        min_count: Count = None,
        max_count: Count = None,
        model_state: Literal["known", "custom", "all"] = "all",
    ) -> list[dict[str, Any]]:
        """The offerings of one kind with their workers online, queue and speed
        (``model_state`` is accepted: every offering here is a registry offering)."""
        views = [v for v in services.network.models() if v.kind == type]
        if min_count is not None:
            views = [v for v in views if v.workers_online >= min_count]
        if max_count is not None:
            views = [v for v in views if v.workers_online <= max_count]
        return [model_status(v) for v in views]

    @api.get("/find_user", responses=documented(400, 401))
    def find_user(user: Annotated[UserRecord, Depends(requests.requester)]) -> dict[str, Any]:
        """The user behind the ``apikey``: name, balance (as ``kudos``) and how many
        requests it may have running at once."""
        credits = services.credits
        return {
            "username": f"{user.name}#{user.id}",
            "kudos": kudos(credits.balance(user)),
            "concurrency": credits.active_limit(user),
            "account_age": max(0, (services.jobs.clock.now_ms() - user.created_ms) // 1000),
        }

    return api

"""The public network view: models on offer, worker pages and network stats.

No credentials: everything here is public, and what it shows is chosen so that it
cannot tell a validation job from an ordinary one (:mod:`swarmgen.coordinator.network`).
"""

# No ``from __future__ import annotations``: FastAPI reads the parameter annotations.

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Path, Query

from swarmgen.coordinator.faces.native.openapi import ALWAYS, errors
from swarmgen.coordinator.network import NetworkService, OfferingView, WorkerPage, WorkerSummary
from swarmgen.protocol.bounds import PLAIN
from swarmgen.protocol.network import (
    EpochEarningsOut,
    ModelList,
    ModelOut,
    StatsOut,
    VerdictOut,
    WorkerList,
    WorkerOut,
    WorkerSummaryOut,
)

MAX_WORKERS = 500
"""Most workers one page lists."""

WorkerId = Annotated[
    str, Path(min_length=1, max_length=64, pattern=PLAIN, description="The worker's id.")
]


def model_out(view: OfferingView) -> ModelOut:
    fields = asdict(view)
    fields["done_last_hour"] = fields.pop("done_recently")
    return ModelOut(**fields)


def summary_out(summary: WorkerSummary) -> WorkerSummaryOut:
    return WorkerSummaryOut(**{**asdict(summary), "models": list(summary.models)})


def worker_out(page: WorkerPage) -> WorkerOut:
    return WorkerOut(
        **summary_out(page.worker).model_dump(),
        owned=page.owned,
        checks_passed=page.checks_passed,
        checks_failed=page.checks_failed,
        checks_abandoned=page.checks_abandoned,
        verdicts=[VerdictOut(epoch=e, invalid=i) for e, i in page.verdicts],
        earnings=[EpochEarningsOut(**asdict(e)) for e in page.earnings],
        stake_locked=page.stake_locked,
        stake_unbonding=page.stake_unbonding,
        published_epoch=page.published_epoch,
    )


def router(
    network: NetworkService, models: str, workers: str, stats: str, route_class: type
) -> APIRouter:
    """``GET`` routes at ``models``, ``workers`` (and ``workers/{id}``) and ``stats``."""
    api = APIRouter(tags=["network"], route_class=route_class, responses=ALWAYS)

    @api.get(models, response_model=ModelList)
    def list_models() -> ModelList:
        """Every model offering: price of a typical job, load, speed, verification figures."""
        return ModelList(models=[model_out(v) for v in network.models()])

    @api.get(models + "/{model}", response_model=ModelOut, responses=errors(404))
    def get_model(
        model: Annotated[str, Path(min_length=1, max_length=80, pattern=PLAIN)],
    ) -> ModelOut:
        """One model offering (name@precision)."""
        return model_out(network.model(model))

    @api.get(workers, response_model=WorkerList)
    def list_workers(
        limit: Annotated[int, Query(ge=1, le=MAX_WORKERS)] = 100,
        after: Annotated[
            str | None,
            Query(max_length=64, pattern=PLAIN, description="List workers after this id."),
        ] = None,
    ) -> WorkerList:
        """Registered workers by id, a page at a time."""
        found = network.workers(limit, after)
        next_after = found[-1].id if len(found) == limit else None
        return WorkerList(workers=[summary_out(s) for s in found], next_after=next_after)

    @api.get(workers + "/{worker_id}", response_model=WorkerOut, responses=errors(404))
    def get_worker(worker_id: WorkerId) -> WorkerOut:
        """A worker's public page: models, reputation, checks, verdicts, earnings, stake."""
        return worker_out(network.worker(worker_id))

    @api.get(stats, response_model=StatsOut)
    def get_stats() -> StatsOut:
        """The network at a glance: epoch, queue, workers online and throughput."""
        view = asdict(network.stats())
        view["done_last_hour"] = view.pop("done_recently")
        return StatsOut(**view)

    return api

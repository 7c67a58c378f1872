"""The dashboard's pages: overview, playground, job list, workers, ledger explorer.

Pages read the services on each request (no cache), render server-side and carry no
inline script; the playground and job list fill themselves in the browser from the
native API with the person's key (``static/dashboard.js``).
"""

# No ``from __future__ import annotations``: FastAPI reads the parameter annotations.

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse, Response

from swarmgen.coordinator.faces.dashboard.chart import throughput_svg
from swarmgen.coordinator.faces.dashboard.rendering import HEADERS, Renderer
from swarmgen.coordinator.faces.dashboard.routing import page_route
from swarmgen.coordinator.faces.dashboard.services import DashboardServices
from swarmgen.protocol import paths
from swarmgen.protocol.bounds import INT64_MAX, PLAIN

WORKERS_PER_PAGE = 100

Id = Annotated[str, Path(min_length=1, max_length=64, pattern=PLAIN)]


def router(services: DashboardServices, renderer: Renderer) -> APIRouter:
    """``GET`` pages at ``/``, ``/playground``, ``/jobs``, ``/workers[/{id}]``,
    ``/epochs[/{epoch}]``, ``/proofs`` and the chart at ``/charts/throughput.svg``."""
    api = APIRouter(
        tags=["dashboard"],
        route_class=page_route(renderer),
        default_response_class=HTMLResponse,
        include_in_schema=False,
    )
    network, explorer = services.network, services.explorer
    api_paths = {
        "jobs": paths.JOBS,
        "stats": paths.STATS,
        "export": f"{paths.LEDGER}/export",
        "proofs": f"{paths.LEDGER}/proofs",
        "key": f"{paths.LEDGER}/key",
    }

    @api.get("/")
    def overview() -> HTMLResponse:
        return renderer.page(
            "overview.html",
            active="overview",
            stats=network.stats(),
            models=network.models(),
            api=api_paths,
        )

    @api.get("/charts/throughput.svg", response_class=Response)
    def throughput() -> Response:
        svg = throughput_svg(network.throughput())
        return Response(svg, media_type="image/svg+xml", headers=HEADERS)

    @api.get("/playground")
    def playground(
        job: Annotated[str | None, Query(min_length=1, max_length=64, pattern=PLAIN)] = None,
    ) -> HTMLResponse:
        return renderer.page(
            "playground.html",
            active="playground",
            models=network.models(),
            job=job or "",
            api=api_paths,
        )

    @api.get("/jobs")
    def jobs() -> HTMLResponse:
        return renderer.page("jobs.html", active="jobs", api=api_paths)

    @api.get("/workers")
    def workers(
        after: Annotated[str | None, Query(min_length=1, max_length=64, pattern=PLAIN)] = None,
    ) -> HTMLResponse:
        found = network.workers(WORKERS_PER_PAGE, after)
        more = found[-1].id if len(found) == WORKERS_PER_PAGE else None
        return renderer.page("workers.html", active="workers", workers=found, more=more)

    @api.get("/workers/{worker_id}")
    def worker(worker_id: Id) -> HTMLResponse:
        return renderer.page("worker.html", active="workers", page=network.worker(worker_id))

    @api.get("/epochs")
    def epochs() -> HTMLResponse:
        return renderer.page("epochs.html", active="epochs", view=explorer.epochs(), api=api_paths)

    @api.get("/epochs/{epoch}")
    def epoch(epoch: Annotated[int, Path(ge=0, le=INT64_MAX)]) -> HTMLResponse:
        return renderer.page("epoch.html", active="epochs", view=explorer.epoch(epoch))

    @api.get("/proofs")
    def proof(
        job: Annotated[str, Query(min_length=1, max_length=64, pattern=PLAIN)],
    ) -> HTMLResponse:
        return renderer.page("proof.html", active="epochs", view=explorer.proof(job), api=api_paths)

    return api

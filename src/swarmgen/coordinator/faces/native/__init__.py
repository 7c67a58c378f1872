"""The native face: swarmgen's own API under ``/api/v1``.

``mount(app, services, settings)`` adds its routers to an app. Its error shape
(:mod:`.errors`) and body limits (:mod:`.routing`) belong to its routes only, so a
sibling face (``faces/openai``, ``faces/horde``, a dashboard) mounts beside it with
its own. Wire models live in :mod:`swarmgen.protocol`, shared with the SDK and worker.
"""

from __future__ import annotations

from fastapi import FastAPI

from swarmgen.coordinator.faces import add_routes
from swarmgen.coordinator.faces.native import credits, jobs, ledger, network, stake, workers
from swarmgen.coordinator.faces.native.callers import Callers, NativeServices
from swarmgen.coordinator.faces.native.routing import native_route
from swarmgen.coordinator.settings import CoordinatorSettings
from swarmgen.protocol import paths

__all__ = ["NativeServices", "mount"]


def mount(app: FastAPI, services: NativeServices, settings: CoordinatorSettings) -> None:
    """Add the native routes to ``app``: requesters' bodies up to ``max_body_bytes``,
    workers' (which carry results) up to ``max_worker_body_bytes``."""
    callers = Callers(services, settings)
    requester = native_route(lambda: settings.max_body_bytes)
    worker = native_route(lambda: settings.max_worker_body_bytes)
    # A request is matched against routes in this order, each costing microseconds:
    # the hottest (a worker's pop and results, a requester's jobs) come first.
    add_routes(app, workers.router(callers, paths.WORKERS, worker))
    add_routes(app, jobs.router(callers, paths.JOBS, requester))
    add_routes(
        app, network.router(services.network, paths.MODELS, paths.WORKERS, paths.STATS, requester)
    )
    add_routes(app, stake.router(callers, paths.STAKE, worker))
    add_routes(app, credits.router(callers, paths.CREDITS, requester))
    add_routes(app, ledger.router(callers, paths.LEDGER, requester))

"""The coordinator as an ASGI app: services from the bootstrap, HTTP faces, periodic tasks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI

import swarmgen
from swarmgen.blobs import BlobStore
from swarmgen.chain.settings import ChainSettings
from swarmgen.clock import Clock
from swarmgen.coordinator.auditing import Publication
from swarmgen.coordinator.bootstrap import build_services, leadership, periodic_tasks
from swarmgen.coordinator.explorer import Explorer
from swarmgen.coordinator.faces import dashboard, fallback, horde, metrics, native, openai
from swarmgen.coordinator.metrics import Observer
from swarmgen.coordinator.network import NetworkService
from swarmgen.coordinator.provenance import Provenance
from swarmgen.coordinator.rechecks import recheck_task, results_recheck_task
from swarmgen.coordinator.replicas import RelayedNotifier
from swarmgen.coordinator.settings import CoordinatorSettings
from swarmgen.coordinator.tasks import TaskRunner
from swarmgen.store import Store

log = logging.getLogger(__name__)


def create_app(
    settings: CoordinatorSettings,
    *,
    store: Store | None = None,
    blobs: BlobStore | None = None,
    clock: Clock | None = None,
    chain: ChainSettings | None = None,
) -> FastAPI:
    """The coordinator as an ASGI app; the database is migrated here, before serving.

    The periodic tasks start with the app's lifespan (not here), so an app that is built
    but never served, like the one a multi-process parent builds, never takes leadership.
    """
    owns_store = store is None  # a store the app opened is the app's to close
    owns_blobs = blobs is None
    services = build_services(settings, store=store, blobs=blobs, clock=clock, chain=chain)
    network = NetworkService(
        services.store,
        services.registry,
        services.credits,
        services.clock,
        settings.epoch_length_s,
        Publication(services.store),
        window_s=settings.public_window_s,
    )
    runner = TaskRunner(
        [
            *periodic_tasks(services, settings),
            network.window_task(),
            recheck_task(services.notifier.queue, services.store, settings.pop_recheck_s),
            results_recheck_task(services.notifier, services.store, settings.result_recheck_s),
        ],
        leadership(services, settings),
        leader_check_s=settings.leader_check_s,
    )

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        relayed = services.notifier if isinstance(services.notifier, RelayedNotifier) else None
        if relayed is not None:  # wake-ups from and to the other replicas
            relayed.start()
        await runner.start()
        try:
            yield
        finally:
            await runner.stop()
            services.notifier.queue.close()
            if relayed is not None:
                await asyncio.to_thread(relayed.stop)
            if owns_blobs:
                services.blobs.close()
            if owns_store:
                services.store.dispose()

    app = FastAPI(
        title="swarmgen coordinator",
        version=swarmgen.__version__,
        description="Schedules, verifies and records generative-AI jobs run by open workers.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.services = services
    app.state.tasks = runner
    # What tests and tools read (``app.state.X``), all from the one container.
    app.state.store = services.store
    app.state.clock = services.clock
    app.state.jobs = services.jobs
    app.state.workers = services.workers
    app.state.reaper = services.reaper
    app.state.credits = services.credits
    app.state.epochs = services.epochs
    fallback.install(app, {openai.PREFIX: openai.routing_error, horde.PREFIX: horde.routing_error})
    observer = Observer(services.store, services.clock)
    app.state.observer = observer
    provenance = Provenance(services.store, network.publication)
    face = native.NativeServices(
        services.jobs,
        services.workers,
        services.credits,
        services.epochs,
        services.store,
        services.clock,
        network,
        observer,
    )

    @app.get("/healthz", tags=["meta"])
    async def healthz() -> dict[str, str]:
        """Liveness probe: answered on the event loop itself, never queued behind the
        thread pool, so it says whether the loop is free."""
        return {"status": "ok", "version": swarmgen.__version__}

    native.mount(app, face, settings)
    openai.mount(
        app,
        openai.OpenAIServices(
            services.jobs,
            services.credits,
            services.store,
            services.blobs,
            services.registry,
            provenance,
            services.epochs.keys,
            observer,
        ),
        settings,
    )
    horde.mount(
        app,
        horde.HordeServices(
            services.jobs,
            services.credits,
            services.store,
            services.registry,
            network,
            observer,
            services.epochs.keys,
        ),
        settings,
    )
    metrics.mount(app, observer)
    dashboard.mount(
        app,
        dashboard.DashboardServices(
            network,
            Explorer(services.store, network.publication, services.epochs.keys.public_key),
            services.jobs,
            services.credits,
            provenance,
            services.store,
        ),
        settings,
    )

    return app

"""Build the coordinator app from settings: store, blobs, registry, services, reaper."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI

import swarmgen
from swarmgen.blobs import BlobStore, FileBlobStore
from swarmgen.clock import Clock, SystemClock
from swarmgen.coordinator import api, errors, ledger_api
from swarmgen.coordinator.credits import CreditService
from swarmgen.coordinator.epochs import EpochService, load_coordinator_key
from swarmgen.coordinator.jobs import JobService
from swarmgen.coordinator.limits import BodyLimit
from swarmgen.coordinator.notify import Notifier
from swarmgen.coordinator.settings import CoordinatorSettings
from swarmgen.coordinator.verification import Verifier
from swarmgen.coordinator.workers import WorkerService
from swarmgen.registry import load_registry
from swarmgen.store import Store, open_store

log = logging.getLogger(__name__)


async def _reaper(workers: WorkerService, interval_s: float) -> None:
    while True:
        await asyncio.sleep(interval_s)
        try:
            workers.reap()
        except Exception:  # keep reaping whatever one pass hit
            log.exception("lease reaper pass failed")


async def _epoch_closer(epochs: EpochService, interval_s: float) -> None:
    while True:
        await asyncio.sleep(interval_s)
        try:
            epochs.close_due()
        except Exception:  # an epoch that fails to close is retried on the next pass
            log.exception("epoch close failed")


def create_app(
    settings: CoordinatorSettings,
    *,
    store: Store | None = None,
    blobs: BlobStore | None = None,
    clock: Clock | None = None,
) -> FastAPI:
    """The coordinator as an ASGI app; the database is migrated here, before serving."""
    settings.data.mkdir(parents=True, exist_ok=True)
    if store is None:
        store = open_store(settings.db_url())
    blobs = blobs or FileBlobStore(settings.blob_dir)
    clock = clock or SystemClock()
    registry = load_registry(settings.registry)
    notifier = Notifier()
    credits = CreditService(settings, store, registry, clock)
    epochs = EpochService(settings, store, registry, clock, load_coordinator_key(settings))
    parts: dict[str, Any] = dict(
        settings=settings,
        store=store,
        blobs=blobs,
        registry=registry,
        clock=clock,
        notifier=notifier,
    )
    verifier = Verifier(registry, blobs) if settings.verify else None
    workers = WorkerService(**parts, verifier=verifier)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        tasks = [
            asyncio.create_task(_reaper(workers, settings.reap_interval_s)),
            asyncio.create_task(_epoch_closer(epochs, settings.epoch_check_s)),
        ]
        yield
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app = FastAPI(
        title="swarmgen coordinator",
        version=swarmgen.__version__,
        description="Schedules, verifies and records generative-AI jobs run by open workers.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.clock = clock
    app.state.jobs = JobService(**parts, credits=credits)
    app.state.workers = workers
    app.state.credits = credits
    app.state.epochs = epochs
    errors.install(app)
    app.include_router(api.requesters)
    app.include_router(api.workers)
    app.include_router(ledger_api.credits)
    app.include_router(ledger_api.ledger)
    app.include_router(ledger_api.stake)

    @app.get("/healthz", tags=["meta"])
    def healthz() -> dict[str, str]:
        """Liveness probe."""
        return {"status": "ok", "version": swarmgen.__version__}

    app.add_middleware(
        BodyLimit,
        default=settings.max_body_bytes,
        worker=settings.max_worker_body_bytes,
        worker_prefix="/api/v1/workers",
    )
    return app


def app_from_env() -> FastAPI:
    """The app from ``SWARMGEN_*`` environment variables: one per server process."""
    return create_app(CoordinatorSettings())

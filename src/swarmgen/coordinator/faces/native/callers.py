"""Who is calling the native face: the services it serves and the caller checks.

Requesters send an API key (or the shared anonymous key); workers sign every request
(:func:`swarmgen.coordinator.auth.authenticate_worker`), so a worker route reads the
raw body, checks the signature over it, then parses it as its wire model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Header, Request
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from swarmgen.clock import Clock
from swarmgen.coordinator.auth import (
    authenticate_requester,
    authenticate_worker,
    bearer_token,
    requester_or_anonymous,
)
from swarmgen.coordinator.credits import CreditService
from swarmgen.coordinator.epochs import EpochService
from swarmgen.coordinator.faces.native.errors import invalid_from
from swarmgen.coordinator.jobs import JobService
from swarmgen.coordinator.metrics import Observer
from swarmgen.coordinator.network import NetworkService
from swarmgen.coordinator.settings import CoordinatorSettings
from swarmgen.coordinator.workers import WorkerService
from swarmgen.store.port import Store
from swarmgen.store.records import UserRecord

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class NativeServices:
    """What the native face calls: the services, plus the store and clock auth reads."""

    jobs: JobService
    workers: WorkerService
    credits: CreditService
    epochs: EpochService
    store: Store
    clock: Clock
    network: NetworkService
    observer: Observer


@dataclass(frozen=True)
class Callers:
    """Authenticates requesters and workers; ``settings`` is read per request."""

    services: NativeServices
    settings: CoordinatorSettings

    def requester(self, authorization: Annotated[str | None, Header()] = None) -> UserRecord:
        """The user behind an API key, or the shared anonymous user behind its key."""
        return requester_or_anonymous(
            self.services.store,
            authorization,
            self.settings.anonymous_key,
            self.services.credits.anonymous,
        )

    def owner(self, request: Request) -> UserRecord | None:
        """The owner a worker names with its owner's API key when registering, if any."""
        authorization = request.headers.get("authorization")
        if not bearer_token(authorization):
            return None
        return authenticate_requester(self.services.store, authorization)

    async def worker(self, request: Request, model: type[M]) -> tuple[str, M]:
        """Authenticate a signed worker request and parse its body as ``model``.

        The signature check (CPU) and the nonce's insert (a database write) run in the
        thread pool, so a slow database never holds the event loop."""
        body = await request.body()
        worker_id = await run_in_threadpool(
            authenticate_worker,
            self.services.store,
            self.services.clock,
            headers=request.headers,
            method=request.method,
            path=request.url.path,
            body=body,
            skew_s=self.settings.clock_skew_s,
        )
        try:
            return worker_id, model.model_validate_json(body or b"{}")
        except ValidationError as exc:
            raise invalid_from(exc) from None

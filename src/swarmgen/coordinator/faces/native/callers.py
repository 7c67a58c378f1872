"""Who is calling the native face: the services it serves and the caller checks.

Requesters send an API key (or the shared anonymous key); workers sign every request
(:func:`swarmgen.coordinator.auth.verify_worker`), so a worker route reads the raw body,
checks the signature over it, then parses it as its wire model.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Header, Request
from pydantic import BaseModel, ValidationError

from swarmgen.clock import Clock
from swarmgen.coordinator.auth import (
    authenticate_requester,
    bearer_token,
    remember,
    requester_or_anonymous,
    verify_worker,
)
from swarmgen.coordinator.credits import CreditService
from swarmgen.coordinator.epochs import EpochService
from swarmgen.coordinator.faces.native.errors import invalid_from
from swarmgen.coordinator.faces.threads import SIGNATURE_CHECKS, in_pool, in_thread, threaded
from swarmgen.coordinator.jobs import JobService
from swarmgen.coordinator.metrics import Observer
from swarmgen.coordinator.network import NetworkService
from swarmgen.coordinator.settings import CoordinatorSettings
from swarmgen.coordinator.workers import WorkerService
from swarmgen.errors import SwarmgenError
from swarmgen.store.pending import pending
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

    @threaded
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

    @contextlib.asynccontextmanager
    async def worker(self, request: Request, model: type[M]) -> AsyncIterator[tuple[str, M]]:
        """Authenticate a signed worker request and parse its body as ``model``, for the
        block that handles it.

        The signature check runs in :data:`SIGNATURE_CHECKS`, so it never holds the event
        loop. The request's nonce is recorded by the first write transaction the block
        makes, or in one of its own as the block ends if none did
        (:mod:`swarmgen.store.pending`): a refused request's too."""
        body = await request.body()
        nonce = await in_pool(
            SIGNATURE_CHECKS,
            verify_worker,
            self.services.clock,
            headers=request.headers,
            method=request.method,
            path=request.scope["path"],  # request.url would build the whole URL
            body=body,
            skew_s=self.settings.clock_skew_s,
        )
        with pending(nonce):
            try:
                try:
                    parsed = model.model_validate_json(body or b"{}")
                except ValidationError as exc:
                    raise invalid_from(exc) from None
                yield nonce.worker_id, parsed
            except Exception:
                if not nonce.recorded:  # the request fails as it did, replayed or not
                    with contextlib.suppress(SwarmgenError):
                        await in_thread(remember, self.services.store, nonce)
                raise
            if not nonce.recorded:
                await in_thread(remember, self.services.store, nonce)

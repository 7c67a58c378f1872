"""Submit a job through the job service and wait for its end, for a face that answers
only once the result is there (OpenAI's API has no job ids to poll)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated

from fastapi import Header, Request

from swarmgen.blobs import BlobStore
from swarmgen.coordinator.auth import requester_or_anonymous
from swarmgen.coordinator.credits import CreditService
from swarmgen.coordinator.domain import JobRequest, JobStatus
from swarmgen.coordinator.faces.hangup import unless_hung_up
from swarmgen.coordinator.faces.threads import threaded
from swarmgen.coordinator.jobs import JobService
from swarmgen.coordinator.metrics import Observer
from swarmgen.coordinator.provenance import JobProvenance, Provenance
from swarmgen.coordinator.settings import CoordinatorSettings
from swarmgen.core.jobs import JobState
from swarmgen.core.signing import KeyPair
from swarmgen.errors import SwarmgenError
from swarmgen.registry import Registry
from swarmgen.store.port import Store
from swarmgen.store.records import UserRecord


class JobUnfinished(SwarmgenError):
    """The job failed, was cancelled, or is still running when the wait ends.

    A 422, not a 5xx or 408: the openai client retries those, which would submit (and
    charge) the job again. The job id is in the error, to follow it on ``/api/v1``.
    """

    code = "job_unfinished"
    status = 422


@dataclass(frozen=True)
class OpenAIServices:
    """What the OpenAI face calls."""

    jobs: JobService
    credits: CreditService
    store: Store
    blobs: BlobStore
    registry: Registry
    provenance: Provenance
    keys: KeyPair
    """The coordinator's key: image links are signed with a secret derived from it."""
    observer: Observer


@dataclass(frozen=True)
class Runner:
    services: OpenAIServices
    settings: CoordinatorSettings

    @threaded
    def requester(self, authorization: Annotated[str | None, Header()] = None) -> UserRecord:
        """The user behind ``Authorization: Bearer <API key>`` (or the anonymous key)."""
        return requester_or_anonymous(
            self.services.store,
            authorization,
            self.settings.anonymous_key,
            self.services.credits.anonymous,
        )

    async def submit(self, user: UserRecord, request: JobRequest) -> str:
        """Queue the job, in a thread (402, 404, 422 and 429 come from here, before any
        answer)."""
        job_id = (await asyncio.to_thread(self.services.jobs.submit, user, request)).id
        self.services.observer.on_submit(user.id, [(request.model, job_id)], "openai")
        return job_id

    async def finish(
        self, user: UserRecord, job_id: str, client: Request | None = None
    ) -> tuple[JobStatus, JobProvenance]:
        """Wait for the job's end; :class:`JobUnfinished` unless it completed. With the
        ``client``'s request, :class:`~swarmgen.coordinator.faces.hangup.HungUp` as soon
        as it hangs up (a stream is ended by its response instead)."""
        if client is None:
            return await self._finish(user, job_id)
        return await unless_hung_up(client, self._finish(user, job_id))

    async def _finish(self, user: UserRecord, job_id: str) -> tuple[JobStatus, JobProvenance]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.openai_wait_s
        status = await self.services.jobs.status(user, job_id, 0)
        while not JobState(status.state).final and (left := deadline - loop.time()) > 0:
            status = await self.services.jobs.status(user, job_id, min(left, 30.0))
        if status.state != JobState.COMPLETED.value:
            why = status.error or ("still running" if not JobState(status.state).final else "")
            raise JobUnfinished(
                f"job {job_id} is {status.state}{': ' + why if why else ''}", job_id=job_id
            )
        return status, await asyncio.to_thread(self.services.provenance.of, job_id)

    def result(self, user: UserRecord, job_id: str, index: int, fmt: str) -> bytes:
        """The result's bytes (blocking: call it from a thread)."""
        return self.services.jobs.result(user, job_id, index, fmt)[0]


def swarmgen_extension(status: JobStatus, provenance: JobProvenance) -> dict[str, object]:
    """The ``swarmgen`` object every answer carries."""
    return {
        "job_id": status.id,
        "model": status.model,
        "worker": provenance.worker_id,
        "receipt_digest": provenance.receipt_digest,
        "verification": provenance.verification,
        "price": status.price,
        "seed": status.seed,
        "job_url": f"/api/v1/jobs/{status.id}",
    }

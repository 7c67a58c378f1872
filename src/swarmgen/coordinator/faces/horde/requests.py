"""What every Horde route shares: who is calling, which offering a request names, and
following a request by its Horde id (:mod:`.ids`) through the job service."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Header

from swarmgen.coordinator.auth import requester_or_anonymous
from swarmgen.coordinator.credits import CreditService
from swarmgen.coordinator.domain import JobRequest, JobStatus
from swarmgen.coordinator.faces.horde.ids import HordeIds
from swarmgen.coordinator.faces.threads import threaded
from swarmgen.coordinator.jobs import JobService
from swarmgen.coordinator.metrics import Observer
from swarmgen.coordinator.network import NetworkService
from swarmgen.coordinator.settings import CoordinatorSettings
from swarmgen.core.credits import PPM
from swarmgen.core.jobs import JobState
from swarmgen.core.offerings import Kind
from swarmgen.core.signing import KeyPair
from swarmgen.errors import Conflict, FieldProblem, NotFound, Unauthorized, UnknownModel
from swarmgen.registry import Registry
from swarmgen.store.port import Store
from swarmgen.store.records import UserRecord

FACE = "horde"


@dataclass(frozen=True)
class HordeServices:
    """What the Horde face calls."""

    jobs: JobService
    credits: CreditService
    store: Store
    registry: Registry
    network: NetworkService
    observer: Observer
    keys: KeyPair
    """The coordinator's key: request ids and image links derive their secrets from it."""


def kudos(micro_credits: int) -> float:
    """A price as Horde's ``kudos``: swarmgen credits (micro-credits / 10^6)."""
    return micro_credits / PPM


@dataclass(frozen=True)
class Requests:
    services: HordeServices
    settings: CoordinatorSettings
    ids: HordeIds

    @threaded
    def requester(self, apikey: Annotated[str | None, Header()] = None) -> UserRecord:
        """The user behind the ``apikey`` header, or the anonymous user behind the
        anonymous key (``0000000000`` unless the operator changed it)."""
        if not apikey:
            raise Unauthorized("send an API key in the 'apikey' header (0000000000: anonymous)")
        return requester_or_anonymous(
            self.services.store,
            f"Bearer {apikey}",
            self.settings.anonymous_key,
            self.services.credits.anonymous,
        )

    def offering(self, models: Sequence[str], kind: Kind) -> str:
        """The first of ``models`` this coordinator offers as a ``kind`` model, by
        ``name@precision`` or by bare name (its first precision in the registry); the
        registry's first ``kind`` offering when ``models`` is empty."""
        registry = self.services.registry
        offered = [o for o in registry.all_offerings() if registry.entry(o).kind is kind]
        for asked in models:
            for offering in offered:
                if asked in (str(offering), offering.name):
                    return str(offering)
        if not models and offered:
            return str(offered[0])
        known = sorted(str(o) for o in offered)
        what = ", ".join(models) if models else "any"
        raise UnknownModel(
            FieldProblem("models", f"no {kind.value} model offering among: {what}", known)
        )

    def submit(self, user: UserRecord, request: JobRequest) -> dict[str, Any]:
        """Queue the job; Horde's answer with its id (402, 404, 422 and 429 come from
        here)."""
        accepted = self.services.jobs.submit(user, request)
        self.services.observer.on_submit(user.id, [(request.model, accepted.id)], FACE)
        horde_id = self.ids.public(accepted.id)
        return {"id": horde_id, "kudos": kudos(accepted.price), "message": ""}

    def quote(self, user: UserRecord, request: JobRequest) -> dict[str, Any]:
        """A dry run: what the job would cost, nothing queued."""
        return {"kudos": kudos(self.services.jobs.quote(user, request).price)}

    def _job(self, horde_id: str) -> tuple[UserRecord, str]:
        job_id = self.ids.job_id(horde_id)
        if job_id is None:
            raise NotFound(f"no request {horde_id}: not a request id", id=horde_id)
        try:
            return self.services.jobs.owner(job_id), job_id
        except NotFound:
            raise NotFound(f"no request {horde_id}", id=horde_id) from None

    async def follow(self, horde_id: str, kind: Kind) -> tuple[UserRecord, JobStatus]:
        """The request's owner and its job as it stands (404 for an id this face never
        gave out, or one of the other kind)."""
        owner, job_id = await asyncio.to_thread(self._job, horde_id)
        status = await self.services.jobs.status(owner, job_id, 0)
        if status.kind != kind.value:
            raise NotFound(f"no {kind.value} request {horde_id}", id=horde_id)
        return owner, status

    async def cancel(self, horde_id: str, kind: Kind) -> tuple[UserRecord, JobStatus]:
        """Withdraw the request and refund it, per the job service's cancel rules; a
        request that already ended is answered as it stands, as AI Horde does."""
        owner, status = await self.follow(horde_id, kind)
        if JobState(status.state).final:
            return owner, status
        try:
            return owner, await asyncio.to_thread(self.services.jobs.cancel, owner, status.id)
        except Conflict:  # it ended meanwhile
            return owner, await self.services.jobs.status(owner, status.id, 0)

    def possible(self, model: str) -> bool:
        """Whether a worker serving ``model`` is online now."""
        try:
            return self.services.network.model(model).workers_online > 0
        except NotFound:
            return False

    def worker_name(self, worker_id: str | None) -> str:
        if worker_id is None:
            return ""
        try:
            return self.services.network.worker(worker_id).worker.name
        except NotFound:
            return ""


def progress(status: JobStatus, possible: bool) -> dict[str, Any]:
    """Horde's progress fields for a job: a queued or running request counts as one,
    a completed one as its outputs; ``faulted`` when it failed. swarmgen gives no wait
    estimate: ``wait_time`` is 0."""
    state = JobState(status.state)
    return {
        "finished": status.outputs if state is JobState.COMPLETED else 0,
        "processing": int(state is JobState.LEASED),
        "restarted": 0,
        "waiting": int(state is JobState.QUEUED),
        "done": state.final,
        "faulted": state is JobState.FAILED,
        "wait_time": 0,
        "queue_position": status.queue_position or 0,
        "kudos": kudos(status.price),
        "is_possible": possible or state is not JobState.QUEUED,
    }

"""Worker stake routes: status, lock, unlock (unbond) and withdraw; signed like all
worker requests."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Request

from swarmgen.coordinator.epochs import StakeView
from swarmgen.coordinator.faces.native.callers import Callers
from swarmgen.coordinator.faces.native.openapi import WORKER, errors, signed_body
from swarmgen.coordinator.faces.threads import in_thread
from swarmgen.protocol import EmptyIn, StakeIn, StakeOut


def stake_out(view: StakeView) -> StakeOut:
    return StakeOut(**asdict(view))


def router(callers: Callers, prefix: str, route_class: type) -> APIRouter:
    """Routes under ``prefix`` (e.g. ``/api/v1/workers/stake``) on the epoch service."""
    epochs = callers.services.epochs
    api = APIRouter(prefix=prefix, tags=["workers"], route_class=route_class, responses=WORKER)

    @api.post("", response_model=StakeOut, openapi_extra=signed_body(EmptyIn))
    async def stake_status(request: Request) -> StakeOut:
        """This worker's locked and unbonding stake."""
        async with callers.worker(request, EmptyIn) as (worker_id, _):
            return stake_out(await in_thread(epochs.stake_view, worker_id))

    @api.post(
        "/lock", response_model=StakeOut, responses=errors(402), openapi_extra=signed_body(StakeIn)
    )
    async def lock(request: Request) -> StakeOut:
        """Lock credits of this worker's owner behind the worker."""
        async with callers.worker(request, StakeIn) as (worker_id, body):
            return stake_out(await in_thread(epochs.lock_stake, worker_id, body.amount))

    @api.post("/unlock", response_model=StakeOut, openapi_extra=signed_body(StakeIn))
    async def unlock(request: Request) -> StakeOut:
        """Ask for locked stake back; it can be withdrawn after the unlock delay."""
        async with callers.worker(request, StakeIn) as (worker_id, body):
            return stake_out(await in_thread(epochs.unbond_stake, worker_id, body.amount))

    @api.post("/withdraw", response_model=StakeOut, openapi_extra=signed_body(EmptyIn))
    async def withdraw(request: Request) -> StakeOut:
        """Return unbonded stake whose delay has passed to the owner."""
        async with callers.worker(request, EmptyIn) as (worker_id, _):
            return stake_out(await in_thread(epochs.withdraw_stake, worker_id))

    return api

"""HTTP routes for credits (``/api/v1/credits``), the public ledger (``/api/v1/ledger``) and
worker stake (``/api/v1/workers/stake``, signed like every worker request)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict

from swarmgen.coordinator import auditing
from swarmgen.coordinator.api import User, signed
from swarmgen.coordinator.credits import CreditService
from swarmgen.coordinator.epochs import EpochService, StakeView
from swarmgen.coordinator.schemas import (
    BalanceOut,
    EntriesOut,
    EntryOut,
    GrantIn,
    StakeIn,
    StakeOut,
    TransferIn,
)
from swarmgen.core import accounts
from swarmgen.core.ledger import Entry
from swarmgen.errors import Forbidden

credits = APIRouter(prefix="/api/v1/credits", tags=["credits"])
ledger = APIRouter(prefix="/api/v1/ledger", tags=["ledger"])
stake = APIRouter(prefix="/api/v1/workers/stake", tags=["workers"])


def credit_service(request: Request) -> CreditService:
    service: CreditService = request.app.state.credits
    return service


def epoch_service(request: Request) -> EpochService:
    service: EpochService = request.app.state.epochs
    return service


Credits = Annotated[CreditService, Depends(credit_service)]
Epochs = Annotated[EpochService, Depends(epoch_service)]


def _entry(entry: Entry) -> EntryOut:
    return EntryOut(**entry.to_dict())


@credits.get("/balance", response_model=BalanceOut)
def balance(user: User, service: Credits) -> BalanceOut:
    """Your spendable balance and what is held in escrow for your active jobs."""
    return BalanceOut(
        user_id=user.id,
        account=accounts.user(user.id),
        balance=service.balance(user),
        reserved=service.reserved(user),
        epoch=service.current_epoch(),
    )


@credits.get("/entries", response_model=EntriesOut)
def entries(
    user: User,
    service: Credits,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    before: Annotated[int | None, Query(ge=0, description="Only entries before this seq.")] = None,
) -> EntriesOut:
    """Ledger entries that move your credits, newest first."""
    found = service.entries(user, limit, before)
    more = len(found) == limit and found[-1].seq > 0
    return EntriesOut(
        entries=[_entry(e) for e in found], next_before=found[-1].seq if more else None
    )


@credits.post("/transfer", response_model=EntryOut)
def transfer(body: TransferIn, user: User, service: Credits) -> EntryOut:
    """Give credits to another user."""
    return _entry(service.transfer(user, body.to, body.amount))


@credits.post("/grant", response_model=EntryOut)
def grant(body: GrantIn, user: User, service: Credits) -> EntryOut:
    """Mint credits to a user (administrators only)."""
    if user.role != "admin":
        raise Forbidden("only administrators grant credits")
    return _entry(service.grant(body.user, body.amount, body.reason))


# the public ledger --------------------------------------------------------------------


@ledger.get("/key")
def coordinator_key(epochs: Epochs) -> dict[str, str]:
    """The coordinator's public key, which signs every epoch seal."""
    return {"coordinator": epochs.keys.public_key}


@ledger.get("/export")
def export(epochs: Epochs) -> StreamingResponse:
    """The whole ledger as JSON lines (see ``swarmgen ledger verify``)."""

    def lines() -> Iterator[bytes]:
        for line in auditing.export(epochs.store, epochs.keys.public_key):
            yield line.encode("utf-8")

    return StreamingResponse(lines(), media_type="application/x-ndjson")


@ledger.get("/proofs/{job_id}")
def proof(job_id: str, epochs: Epochs) -> dict[str, Any]:
    """Inclusion proofs of a job's sealed entries, checkable offline against the key."""
    return auditing.prove(epochs.store, job_id).to_dict()


# worker stake ---------------------------------------------------------------------------


class _Empty(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _stake(view: StakeView) -> StakeOut:
    return StakeOut(**view.__dict__)


@stake.post("", response_model=StakeOut)
async def stake_status(request: Request, epochs: Epochs) -> StakeOut:
    """This worker's locked and unbonding stake."""
    worker_id, _ = await signed(request, _Empty)
    return _stake(epochs.stake_view(worker_id))


@stake.post("/lock", response_model=StakeOut)
async def lock(request: Request, epochs: Epochs) -> StakeOut:
    """Lock credits of this worker's owner behind the worker."""
    worker_id, body = await signed(request, StakeIn)
    return _stake(epochs.lock_stake(worker_id, body.amount))


@stake.post("/unlock", response_model=StakeOut)
async def unlock(request: Request, epochs: Epochs) -> StakeOut:
    """Ask for locked stake back; it can be withdrawn after the unlock delay."""
    worker_id, body = await signed(request, StakeIn)
    return _stake(epochs.unbond_stake(worker_id, body.amount))


@stake.post("/withdraw", response_model=StakeOut)
async def withdraw(request: Request, epochs: Epochs) -> StakeOut:
    """Return unbonded stake whose delay has passed to the owner."""
    worker_id, _ = await signed(request, _Empty)
    return _stake(epochs.withdraw_stake(worker_id))

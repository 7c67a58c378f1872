"""Credit routes: balance, entries, transfers and grants."""

# No ``from __future__ import annotations``: FastAPI must see the route-local ``User``
# dependency type itself, not a string it cannot resolve from module globals.

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from swarmgen.coordinator.faces.native.callers import Callers
from swarmgen.coordinator.faces.native.openapi import REQUESTER, errors
from swarmgen.core.ledger import Entry
from swarmgen.errors import Forbidden
from swarmgen.protocol import INT64_MAX, BalanceOut, EntriesOut, EntryOut, GrantIn, TransferIn
from swarmgen.store.records import UserRecord


def entry_out(entry: Entry) -> EntryOut:
    return EntryOut(**entry.to_dict())


def router(callers: Callers, prefix: str, route_class: type) -> APIRouter:
    """Routes under ``prefix`` (e.g. ``/api/v1/credits``) on the credit service."""
    service = callers.services.credits
    api = APIRouter(prefix=prefix, tags=["credits"], route_class=route_class, responses=REQUESTER)
    User = Annotated[UserRecord, Depends(callers.requester)]

    @api.get("/balance", response_model=BalanceOut)
    def balance(user: User) -> BalanceOut:
        """Your spendable balance and what is held in escrow for your active jobs."""
        account = service.account(user)
        return BalanceOut(
            user_id=account.user_id,
            account=account.account,
            balance=account.balance,
            reserved=account.reserved,
            epoch=account.epoch,
        )

    @api.get("/entries", response_model=EntriesOut, responses=errors(403))
    def entries(
        user: User,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        before: Annotated[
            int | None, Query(ge=0, le=INT64_MAX, description="Only entries before this seq.")
        ] = None,
    ) -> EntriesOut:
        """Ledger entries that move your credits, newest first (not for the anonymous key)."""
        found = service.entries(user, limit, before)
        more = len(found) == limit and found[-1].seq > 0
        return EntriesOut(
            entries=[entry_out(e) for e in found], next_before=found[-1].seq if more else None
        )

    @api.post("/transfer", response_model=EntryOut, responses=errors(402, 403))
    def transfer(body: TransferIn, user: User) -> EntryOut:
        """Give credits to another user (not from the shared anonymous account)."""
        return entry_out(service.transfer(user, body.to, body.amount))

    @api.post("/grant", response_model=EntryOut, responses=errors(403, 404))
    def grant(body: GrantIn, user: User) -> EntryOut:
        """Mint credits to a user (administrators only)."""
        if user.role != "admin":
            raise Forbidden("only administrators grant credits")
        return entry_out(service.grant(body.user, body.amount, body.reason))

    return api

"""Credit, ledger and stake messages: balances, entries, transfers, grants, stake."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from swarmgen.protocol.bounds import PLAIN, STRICT, MicroCredits


class BalanceOut(BaseModel):
    user_id: str
    account: str
    balance: int = Field(description="Spendable micro-credits.")
    reserved: int = Field(description="Micro-credits held in escrow for your active jobs.")
    epoch: int


class EntryOut(BaseModel):
    """One ledger entry, as exported."""

    seq: int
    epoch: int
    kind: str
    debit: str
    credit: str
    amount: int
    job_id: str | None
    memo: dict[str, Any]
    receipt: dict[str, Any] | None
    prev_hash: str
    hash: str


class EntriesOut(BaseModel):
    entries: list[EntryOut]
    next_before: int | None = Field(
        None, description="Pass as before= to get the next (older) page; null at the end."
    )


class TransferIn(BaseModel):
    model_config = STRICT

    to: str = Field(min_length=1, max_length=64, pattern=PLAIN, description="Recipient user name.")
    amount: MicroCredits


class GrantIn(BaseModel):
    model_config = STRICT

    user: str = Field(min_length=1, max_length=64, pattern=PLAIN, description="User name.")
    amount: MicroCredits = Field(description="Micro-credits to mint.")
    reason: str = Field("grant", min_length=1, max_length=64, pattern=PLAIN)


class StakeIn(BaseModel):
    model_config = STRICT

    amount: MicroCredits


class StakeOut(BaseModel):
    worker_id: str
    locked: int
    unbonding: int
    unlock_epoch: int | None = Field(description="First epoch the unbonding stake may leave.")
    epoch: int


class CoordinatorKeyOut(BaseModel):
    """The coordinator's public key, which signs every epoch seal."""

    coordinator: str

"""Ledger accounts: typed names such as ``user:42`` or ``escrow:job-1``.

An account is a plain string ``kind:id`` (or a bare ``kind`` for the singletons), so it
stores and exports as text; :func:`account_kind` reads the kind back. Two accounts sit
outside the money supply: ``mint`` is the only source (grants and emission are drawn
from it, so its balance is minus everything ever minted) and ``burn`` is the only sink
(slashed stake ends there). Every other balance is money in circulation, and must never
be negative.
"""

from __future__ import annotations

import functools
import re
from enum import StrEnum

from swarmgen.errors import SwarmgenError


class BadAccount(SwarmgenError):
    """An account name is malformed or of an unknown kind."""

    code = "bad_account"
    status = 422


class AccountKind(StrEnum):
    """What an account holds."""

    USER = "user"
    """A person's spendable credits; workers' owners are paid here."""
    WORKER = "worker"
    """A worker's pending earnings for the open epoch, paid to its owner at the close."""
    ESCROW = "escrow"
    """One job's reserved price, from submit until completion or refund."""
    STAKE = "stake"
    """Credits a worker's owner has locked behind the worker; slashable."""
    UNBONDING = "unbonding"
    """Stake asked back, waiting out the unlock delay; still slashable."""
    VALIDATOR_POOL = "validator_pool"
    """Validation fees collected from jobs, paid to validators per check at the close."""
    MINT = "mint"
    """The source of all credits: grants and emission. Its balance is minus the minted total."""
    BURN = "burn"
    """The sink: credits destroyed (slashed stake). Its balance is the burned total."""

    @property
    def singleton(self) -> bool:
        """True for accounts that exist once and carry no id."""
        return self in _SINGLETONS


_SINGLETONS = frozenset({AccountKind.VALIDATOR_POOL, AccountKind.MINT, AccountKind.BURN})

MINT = AccountKind.MINT.value
BURN = AccountKind.BURN.value
VALIDATOR_POOL = AccountKind.VALIDATOR_POOL.value

MAX_ID_CHARS = 200
_BLANK = re.compile(r"\s")


def _named(kind: AccountKind, ident: str) -> str:
    if not ident or len(ident) > MAX_ID_CHARS or _BLANK.search(ident):
        raise BadAccount(f"{kind.value} id must be 1-{MAX_ID_CHARS} non-blank characters")
    return f"{kind.value}:{ident}"


def user(user_id: str | int) -> str:
    """The spendable account of a user."""
    return _named(AccountKind.USER, str(user_id))


def worker(worker_id: str) -> str:
    """The pending-earnings account of a worker (its public key)."""
    return _named(AccountKind.WORKER, worker_id)


def escrow(job_id: str) -> str:
    """The escrow account of one job."""
    return _named(AccountKind.ESCROW, job_id)


def stake(worker_id: str) -> str:
    """The locked stake behind a worker."""
    return _named(AccountKind.STAKE, worker_id)


def unbonding(worker_id: str) -> str:
    """Stake of a worker waiting out its unlock delay."""
    return _named(AccountKind.UNBONDING, worker_id)


_KINDS = {kind.value: kind for kind in AccountKind}


@functools.lru_cache(maxsize=1 << 14)
def account_kind(account: str) -> AccountKind:
    """The kind of ``account``; :class:`BadAccount` when malformed.

    Remembered for the last accounts read (a refusal is not): every posting's check reads
    both of its accounts, and a job's escrow is read again by each posting that moves it."""
    kind_text, sep, ident = account.partition(":")
    kind = _KINDS.get(kind_text)
    if kind is None:
        raise BadAccount(f"unknown account kind in {account!r}")
    if kind.singleton:
        if sep:
            raise BadAccount(f"{kind.value} takes no id")
        return kind
    _named(kind, ident)
    return kind


def account_id(account: str) -> str:
    """The id part of ``account`` (empty for singletons)."""
    account_kind(account)
    return account.partition(":")[2]


def in_supply(account: str) -> bool:
    """True for accounts whose balance counts as money in circulation."""
    return account not in (MINT, BURN)

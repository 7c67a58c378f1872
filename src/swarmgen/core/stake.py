"""Worker stake: lock, unbond, unlock after a delay, and slash.

An owner locks credits behind one of its workers (``stake:<worker>``). Asking for them
back moves them to ``unbonding:<worker>``, where they wait ``unlock_delay_epochs``
before they can be withdrawn; a new request restarts the wait for everything unbonding.
Unbonding stake is still slashable, so a worker cannot cheat and pull its stake out
before the epoch that catches it closes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from swarmgen.core import accounts
from swarmgen.core.credits import PPM, require_funds
from swarmgen.core.ledger import Entry, EntryKind, Posting
from swarmgen.errors import Conflict, FieldProblem, InvalidRequest

MIN_STAKE = 5_000_000
"""Default locked stake, in micro-credits (5 credits), a worker needs to serve jobs."""

UNLOCK_EPOCH = "unlock_epoch"
"""Memo key of an unbond entry: the first epoch in which the stake may be withdrawn."""


@dataclass(frozen=True)
class StakePolicy:
    """How long stake takes to unlock and how much of it a cheat costs."""

    unlock_delay_epochs: int = 2
    """Epochs between an unbond request and the withdrawal it allows."""
    slash_ppm: int = 100_000
    """Share of a worker's stake (locked and unbonding) burned when it is found invalid."""

    def __post_init__(self) -> None:
        if self.unlock_delay_epochs < 1:
            raise ValueError("unlock_delay_epochs must be at least 1 (the epoch must close first)")
        if not 0 <= self.slash_ppm <= PPM:
            raise ValueError("slash_ppm must be within 0..1_000_000")


def _positive(amount: int) -> None:
    if type(amount) is not int or amount <= 0:
        raise InvalidRequest(FieldProblem("amount", "must be a positive integer of micro-credits"))


def slashable(balances: Mapping[str, int], worker_id: str) -> int:
    """Stake behind ``worker_id`` that a slash can reach: locked plus unbonding."""
    return balances.get(accounts.stake(worker_id), 0) + balances.get(
        accounts.unbonding(worker_id), 0
    )


def lock(balances: Mapping[str, int], owner: str, worker_id: str, amount: int) -> Posting:
    """The owner locks ``amount`` of its credits behind ``worker_id``."""
    _positive(amount)
    source = accounts.user(owner)
    require_funds(balances.get(source, 0), amount)
    return Posting(EntryKind.STAKE_LOCK, source, accounts.stake(worker_id), amount)


def request_unlock(
    balances: Mapping[str, int], worker_id: str, amount: int, epoch: int, policy: StakePolicy
) -> Posting:
    """Start the unlock delay for ``amount`` of the worker's locked stake."""
    _positive(amount)
    locked = balances.get(accounts.stake(worker_id), 0)
    if locked < amount:
        raise Conflict(f"only {locked} is locked", locked=locked, requested=amount)
    return Posting(
        EntryKind.STAKE_UNBOND,
        accounts.stake(worker_id),
        accounts.unbonding(worker_id),
        amount,
        memo={UNLOCK_EPOCH: epoch + policy.unlock_delay_epochs},
    )


def unlock_epoch(entries: Iterable[Entry], worker_id: str) -> int | None:
    """The epoch from which ``worker_id``'s unbonding stake may be withdrawn (the latest
    request decides), or ``None`` when it never asked."""
    account = accounts.unbonding(worker_id)
    found: int | None = None
    for entry in entries:
        if entry.kind is EntryKind.STAKE_UNBOND and entry.posting.credit == account:
            value = entry.posting.memo.get(UNLOCK_EPOCH)
            if isinstance(value, int):
                found = value
    return found


def unlock(
    balances: Mapping[str, int], owner: str, worker_id: str, epoch: int, unlocks_at: int | None
) -> Posting:
    """Return all of the worker's unbonding stake to its owner once ``unlocks_at`` is reached."""
    held = balances.get(accounts.unbonding(worker_id), 0)
    if held <= 0 or unlocks_at is None:
        raise Conflict("nothing is unbonding", worker_id=worker_id)
    if epoch < unlocks_at:
        raise Conflict(f"stake unlocks at epoch {unlocks_at}", unlock_epoch=unlocks_at)
    return Posting(
        EntryKind.STAKE_UNLOCK, accounts.unbonding(worker_id), accounts.user(owner), held
    )


def slash(balances: Mapping[str, int], worker_id: str, policy: StakePolicy) -> tuple[Posting, ...]:
    """Burn ``slash_ppm`` of the worker's slashable stake, locked stake first."""
    due = slashable(balances, worker_id) * policy.slash_ppm // PPM
    out: list[Posting] = []
    for account in (accounts.stake(worker_id), accounts.unbonding(worker_id)):
        take = min(due, balances.get(account, 0))
        if take > 0:
            out.append(Posting(EntryKind.SLASH, account, accounts.BURN, take))
            due -= take
    return tuple(out)

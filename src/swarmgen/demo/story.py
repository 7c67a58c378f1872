"""What one sealed epoch of the demo's ledger says: verdicts, refunds and earnings.

Everything here is read from the exported, verified ledger (never from the demo's own
bookkeeping), so the tables the demo prints are what any auditor of the export would find.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from swarmgen.core import accounts
from swarmgen.core.ledger import Entry, EntryKind


@dataclass(frozen=True)
class WorkerEpoch:
    """One worker's epoch as the ledger records it (amounts in micro-credits)."""

    worker_id: str
    checks: int
    """Its checked claims plus the ballots it cast, pooled over its owner's keys."""
    failures: int
    """Its rejected claims plus its ballots on the losing side."""
    p_value: str
    """Chance that an honest worker fails that often (the verdict's evidence)."""
    invalid: bool
    released: int
    """Its jobs' prices, less the validation fee, held pending the close."""
    rewards: int
    """Paid from the validator pool for the checks it ran."""
    emission: int
    """The epoch's newly minted credits it earned."""
    forfeited: int
    """Pending earnings sent back to the requesters (an invalid worker's)."""
    paid: int
    """Paid to its owner at the close."""
    slashed: int
    """Stake burned."""

    @property
    def earned(self) -> int:
        return self.released + self.rewards + self.emission


@dataclass(frozen=True)
class Refund:
    """A job whose worker was found invalid: its earnings went back to the requester."""

    job_id: str
    worker_id: str
    amount: int


def _sum(entries: Iterable[Entry], kind: EntryKind, account: str, *, credit: bool) -> int:
    """What entries of ``kind`` moved to (``credit``) or from ``account``."""
    return sum(
        e.posting.amount
        for e in entries
        if e.posting.kind is kind and (e.posting.credit if credit else e.posting.debit) == account
    )


def epoch_entries(entries: Iterable[Entry], epoch: int) -> list[Entry]:
    return [e for e in entries if e.epoch == epoch]


def worker_epoch(entries: list[Entry], worker_id: str) -> WorkerEpoch:
    """``worker_id``'s verdict and money in ``entries`` (one epoch's)."""
    account = accounts.worker(worker_id)
    verdict = next(
        (
            e.posting.memo
            for e in entries
            if e.posting.kind is EntryKind.VERDICT and e.posting.debit == account
        ),
        {},
    )
    return WorkerEpoch(
        worker_id=worker_id,
        checks=int(verdict.get("checks", 0)),
        failures=int(verdict.get("failures", 0)),
        p_value=str(verdict.get("p_value", "-")),
        invalid=bool(verdict.get("invalid", 0)),
        released=_sum(entries, EntryKind.RELEASE, account, credit=True),
        rewards=_sum(entries, EntryKind.VALIDATOR_REWARD, account, credit=True),
        emission=_sum(entries, EntryKind.EMISSION, account, credit=True),
        forfeited=_sum(entries, EntryKind.FORFEIT, account, credit=False),
        paid=_sum(entries, EntryKind.PAYOUT, account, credit=False),
        slashed=_sum(entries, EntryKind.SLASH, accounts.stake(worker_id), credit=False),
    )


def refunds(entries: list[Entry], requester_id: str) -> list[Refund]:
    """The forfeits ``entries`` send back to the requester, in ledger order."""
    to = accounts.user(requester_id)
    return [
        Refund(e.posting.job_id or "", accounts.account_id(e.posting.debit), e.posting.amount)
        for e in entries
        if e.posting.kind is EntryKind.FORFEIT and e.posting.credit == to
    ]

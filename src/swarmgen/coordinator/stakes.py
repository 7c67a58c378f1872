"""Where the coordinator reads a worker's stake: its own ledger, or the chain.

Two questions read stake. *May this key serve?* (:meth:`StakeSource.current`, at every
pop) and *who may be drawn for a seat, with what weight?* (:meth:`StakeSource.for_draw`).
Without a chain both read the ``stake:<worker>`` balance in the ledger
(:class:`LedgerStakes`). With one, both read the contract
(:class:`swarmgen.chain.stake.ChainStakes`): the draw reads the stake as of the
epoch's pinned block, so anyone can recompute it, and a worker any coordinator sharing
the contract has slashed is :attr:`WorkerStake.slashed`, which this coordinator answers
by checking every job of it and never drawing it for a seat.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol

from swarmgen.core import accounts
from swarmgen.store.port import Transaction


@dataclass(frozen=True)
class WorkerStake:
    """A worker's stake as this coordinator weighs it."""

    locked: int
    """Locked stake in micro-credits (unbonding stake and stake a pending slash may
    take do not count)."""
    slashed: bool = False
    """A slash stands against it on the chain (pending or executed, by any coordinator):
    every job of it is checked, and it is never drawn for a seat."""


class StakeSource(Protocol):
    def current(self, tx: Transaction, worker_id: str) -> WorkerStake:
        """The worker's stake now (it may lag the chain by a few seconds)."""
        ...

    def for_draw(self, tx: Transaction, worker_ids: Collection[str]) -> dict[str, WorkerStake]:
        """Each worker's stake as the open epoch's draws weigh it: the same answer for
        the whole epoch, whichever replica asks."""
        ...

    def slashed(self, tx: Transaction, worker_ids: Collection[str]) -> set[str]:
        """Those of ``worker_ids`` a slash stands against now (every job of theirs is
        checked)."""
        ...


class LedgerStakes:
    """Stake locked in this coordinator's own ledger."""

    def current(self, tx: Transaction, worker_id: str) -> WorkerStake:
        return WorkerStake(tx.ledger.balance(accounts.stake(worker_id)))

    def for_draw(self, tx: Transaction, worker_ids: Collection[str]) -> dict[str, WorkerStake]:
        return {w: self.current(tx, w) for w in worker_ids}

    def slashed(self, tx: Transaction, worker_ids: Collection[str]) -> set[str]:
        """None: the ledger's slashes act through the verdict of the epoch that made them."""
        return set()

"""Stake as the chain holds it, for a coordinator that weighs who may serve and validate.

:func:`chain_stakes` answers, for each worker id, the stake a slash can still reach
(locked plus unbonding); a worker with a slash pending counts as holding nothing, since
that stake may be gone once the window ends. Workers never seen on chain hold 0.

:class:`ChainStakes` is the coordinator's stake source when a chain is configured
(:mod:`swarmgen.coordinator.stakes`). Stake is converted to micro-credits at
``units_per_micro`` chain units each. Two readings:

* **for the draw**, each epoch reads the contract *as of its pinned block*: the last
  block mined at least ``lag_s`` seconds before the epoch opened (:func:`pinned_block`).
  The epoch's opening time is in its ledger, so every replica pins the same block and
  anyone can recompute the stake table every draw of the epoch used
  (:func:`stake_table`), and with the revealed seed, every draw. The lag keeps the pin
  fixed although blocks are stamped by the chain's clock, which may trail the
  coordinator's: a block mined after the opening never lands before the pin. Stake
  deposited later counts from the next epoch. The table is cached per epoch.
* **now** (may this key serve; must every job of it be checked), cached for
  ``cache_s`` seconds.

Stake a pending slash may take does not count. A worker that any coordinator sharing
the contract has slashed (pending or executed, not cancelled by a dispute) is
``slashed``: it keeps serving on what is left, and every job of it is checked. A
chain that cannot be read fails closed: a worker whose stake cannot be read is not
drawn, and keeps its last known standing for serving (none: it holds nothing).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from swarmgen.chain.port import Chain, key32
from swarmgen.coordinator.stakes import WorkerStake
from swarmgen.store.port import Transaction

log = logging.getLogger(__name__)

UNITS_PER_MICRO = 10**12
"""Default chain units (wei) per micro-credit: one coin of 10¹⁸ units is one credit."""

PIN_LAG_S = 15
"""Default seconds between an epoch's opening and the newest block its draw may read:
more than a chain's clock trails the coordinator's (a public chain stamps a block with
its slot's start)."""


def chain_stakes(chain: Chain, worker_ids: Iterable[str]) -> dict[str, int]:
    """Worker id to its slashable stake on chain (0 with a slash pending)."""
    stakes: dict[str, int] = {}
    for worker_id in worker_ids:
        info = chain.stake_of(key32(worker_id))
        stakes[worker_id] = 0 if info.pending_slashes else info.slashable
    return stakes


def standing(
    chain: Chain, worker_id: str, units_per_micro: int, block: int | None = None
) -> WorkerStake:
    """A worker's locked stake in micro-credits, less what its pending slashes may take,
    and whether a slash stands against it, as of ``block`` (now when ``None``)."""
    worker = key32(worker_id)
    info = chain.stake_of(worker, block)
    slashes = chain.slashes_against(worker, block)
    at_risk = sum(s.amount for s in slashes if s.state == "pending")
    locked = max(info.locked - at_risk, 0) // units_per_micro
    return WorkerStake(locked, any(s.counts for s in slashes))


def pinned_block(chain: Chain, opened_ms: int, lag_s: int = PIN_LAG_S) -> int | None:
    """The block an epoch opened at ``opened_ms`` reads stake at (``None``: the chain
    is younger than that, and nobody holds stake for the epoch)."""
    return chain.block_at(opened_ms // 1000 - lag_s)


def stake_table(
    chain: Chain,
    opened_ms: int,
    worker_ids: Iterable[str],
    units_per_micro: int,
    lag_s: int = PIN_LAG_S,
) -> dict[str, WorkerStake]:
    """What an epoch opened at ``opened_ms`` drew with: each worker's standing at the
    epoch's pinned block. Anyone with the ledger and a node that keeps that block's
    state (an archive node on a public chain) recomputes it."""
    block = pinned_block(chain, opened_ms, lag_s)
    if block is None:
        return {w: WorkerStake(0) for w in worker_ids}
    return {w: standing(chain, w, units_per_micro, block) for w in worker_ids}


@dataclass
class _Pinned:
    epoch: int
    block: int | None
    table: dict[str, WorkerStake] = field(default_factory=dict)


@dataclass
class ChainStakes:
    """The stake source of a coordinator on a chain (module docstring)."""

    chain: Chain
    units_per_micro: int = UNITS_PER_MICRO
    cache_s: float = 10.0
    """How long a reading of the current stake is reused."""
    lag_s: int = PIN_LAG_S
    """Seconds before an epoch's opening that its pinned block must be (:data:`PIN_LAG_S`)."""
    _pinned: _Pinned | None = None
    _current: dict[str, tuple[float, WorkerStake]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.units_per_micro <= 0:
            raise ValueError("units_per_micro must be positive")
        if self.lag_s < 0:
            raise ValueError("lag_s must not be negative")

    def current(self, tx: Transaction, worker_id: str) -> WorkerStake:
        now = time.monotonic()
        with self._lock:
            known = self._current.get(worker_id)
        if known is not None and now - known[0] < self.cache_s:
            return known[1]
        try:
            found = standing(self.chain, worker_id, self.units_per_micro)
        except Exception as exc:  # (any node failure: fall back, never a 5xx)
            log.warning("stake of %s unreadable on chain: %s", worker_id, exc)
            return known[1] if known is not None else WorkerStake(0)
        with self._lock:
            self._current[worker_id] = (now, found)
        return found

    def slashed(self, tx: Transaction, worker_ids: Collection[str]) -> set[str]:
        return {w for w in worker_ids if self.current(tx, w).slashed}

    def for_draw(self, tx: Transaction, worker_ids: Collection[str]) -> dict[str, WorkerStake]:
        epoch = tx.ledger.open_epoch()
        if epoch is None:
            return {w: WorkerStake(0) for w in worker_ids}
        pinned = self._pin(epoch.epoch, epoch.opened_ms)
        if pinned is None:
            return {w: WorkerStake(0, slashed=True) for w in worker_ids}
        out: dict[str, WorkerStake] = {}
        for worker_id in worker_ids:
            known = pinned.table.get(worker_id)
            if known is None and pinned.block is None:
                known = WorkerStake(0)
            if known is None:
                try:
                    known = standing(self.chain, worker_id, self.units_per_micro, pinned.block)
                except Exception as exc:  # (not drawn this time, read again later)
                    log.warning("stake of %s unreadable on chain: %s", worker_id, exc)
                    out[worker_id] = WorkerStake(0, slashed=True)
                    continue
                with self._lock:
                    pinned.table[worker_id] = known
            out[worker_id] = known
        return out

    def _pin(self, epoch: int, opened_ms: int) -> _Pinned | None:
        with self._lock:
            pinned = self._pinned
        if pinned is not None and pinned.epoch == epoch:
            return pinned
        try:
            block = pinned_block(self.chain, opened_ms, self.lag_s)
        except Exception as exc:  # (nobody drawn until the chain answers)
            log.warning("epoch %d: no block pinned, the chain does not answer: %s", epoch, exc)
            return None
        log.info("epoch %d: stake read at block %s", epoch, block)
        with self._lock:
            self._pinned = _Pinned(epoch, block)
            return self._pinned

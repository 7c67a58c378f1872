"""Stake as the chain holds it, for a coordinator that weighs who may validate.

:func:`chain_stakes` answers, for each worker id, the stake a slash can still reach
(locked plus unbonding); a worker with a slash pending counts as holding nothing, since
that stake may be gone once the window ends. Workers never seen on chain hold 0.
"""

from __future__ import annotations

from collections.abc import Iterable

from swarmgen.chain.port import Chain, key32


def chain_stakes(chain: Chain, worker_ids: Iterable[str]) -> dict[str, int]:
    """Worker id to its slashable stake on chain (0 with a slash pending)."""
    stakes: dict[str, int] = {}
    for worker_id in worker_ids:
        info = chain.stake_of(key32(worker_id))
        stakes[worker_id] = 0 if info.pending_slashes else info.slashable
    return stakes

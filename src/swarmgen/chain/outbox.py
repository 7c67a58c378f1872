"""Posting the coordinator's outbox to the chain: each sealed epoch once, retried until it lands.

The closing transaction writes ``seal:<epoch>`` to the outbox with the seal
(:meth:`swarmgen.coordinator.epochs.EpochService._close`), so a crash between the seal
and the post loses nothing. :meth:`ChainOutbox.drain` posts what waits, oldest first,
and marks each row posted in its own transaction. Before it sends, it asks the chain:
a seal already there (the post landed but the mark did not) is marked, not sent again,
and the contract refuses a second seal for an epoch anyway. A different seal already on
chain for the epoch is a conflict no retry can fix: it is recorded and draining stops,
since an epoch must never be skipped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from swarmgen.chain.port import Chain, ChainError, ChainSeal, SealConflict
from swarmgen.clock import Clock
from swarmgen.core.seal import EpochSeal
from swarmgen.store.port import Store
from swarmgen.store.records import OutboxRow

log = logging.getLogger(__name__)


@dataclass
class Drained:
    posted: list[str] = field(default_factory=list)
    """Keys posted (or found already on chain) this round."""
    failed: dict[str, str] = field(default_factory=dict)
    """Keys that failed, with why; they wait for the next round."""


@dataclass
class ChainOutbox:
    store: Store
    chain: Chain
    clock: Clock

    def owe_sealed(self) -> int:
        """Owe every sealed epoch not yet owed (a coordinator that joins the chain late,
        or one run without the outbox on); returns how many rows were written."""
        with self.store.transaction() as tx:
            missing = [s for s in tx.ledger.seals() if tx.outbox.get(f"seal:{s.epoch}") is None]
            for seal in missing:
                tx.outbox.add(f"seal:{seal.epoch}", "seal", seal.to_dict(), self.clock.now_ms())
        return len(missing)

    def drain(self, limit: int = 100) -> Drained:
        """Post what waits, oldest first; stop at the first failure so order holds."""
        with self.store.transaction() as tx:
            rows = tx.outbox.waiting(limit)
        done = Drained()
        for row in rows:
            try:
                tx_hash = self._post(row)
            except ChainError as exc:
                log.warning("chain outbox %s not posted: %s", row.key, exc)
                with self.store.transaction() as tx:
                    tx.outbox.failed(row.key, str(exc))
                done.failed[row.key] = str(exc)
                break
            with self.store.transaction() as tx:
                tx.outbox.posted(row.key, tx_hash, self.clock.now_ms())
            done.posted.append(row.key)
        return done

    def _post(self, row: OutboxRow) -> str:
        if row.kind != "seal":
            raise ChainError(f"unknown outbox kind {row.kind!r}")
        seal = EpochSeal.from_dict(row.payload)
        there = self.chain.seal_of(self.chain.address, seal.epoch)
        if there is not None:
            if there.differences(seal):
                raise SealConflict(
                    f"the chain holds another seal for epoch {seal.epoch}", epoch=seal.epoch
                )
            return "already-on-chain"
        return self.chain.post_seal(ChainSeal.of(seal))

"""Posting the coordinator's outbox to the chain: seals and slashes, each once, retried.

The closing transaction writes ``seal:<epoch>`` to the outbox with the seal
(:meth:`swarmgen.coordinator.epochs.EpochService._close`), so a crash between the seal
and the post loses nothing. :meth:`ChainOutbox.drain` posts what waits, oldest first,
and marks each row posted in its own transaction. Before it sends, it asks the chain:
a seal already there (the post landed but the mark did not) is marked, not sent again,
and the contract refuses a second seal for an epoch anyway. A different seal already on
chain for the epoch is a conflict no retry can fix: it is recorded and draining stops,
since an epoch must never be skipped.

A ``slash`` row (:mod:`swarmgen.chain.owed`) becomes a proposal naming the judged
receipt; the contract keeps one slash per evidence digest, and the poster asks for it
before proposing, so a retried proposal finds the first. Once proposed, an ``execute``
row waits for the challenge window and then executes it (or finds it disputed).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from swarmgen.chain.port import (
    Chain,
    ChainError,
    ChainSeal,
    SealConflict,
    SlashClaim,
    digest32,
    key32,
)
from swarmgen.chain.receipts import ChainReceipt
from swarmgen.clock import Clock
from swarmgen.core.receipts import Receipt
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
        """Post what waits, oldest first; stop at the first failure so order holds.

        An ``execute`` row whose challenge window is still open is passed over without
        counting as a failure: it is not late, only early.
        """
        with self.store.transaction() as tx:
            rows = tx.outbox.waiting(limit)
        done = Drained()
        for row in rows:
            try:
                tx_hash = self._post(row)
            except ChainError as exc:
                if row.kind == "execute" and exc.details.get("reason") == "WindowOpen":
                    continue
                log.warning("chain outbox %s not posted: %s", row.key, exc)
                with self.store.transaction() as tx:
                    tx.outbox.failed(row.key, str(exc))
                done.failed[row.key] = str(exc)
                break
            with self.store.transaction() as tx:
                tx.outbox.posted(row.key, tx_hash, self.clock.now_ms())
                if row.kind == "slash" and tx_hash.startswith("slash:"):
                    slash_id = int(tx_hash.removeprefix("slash:"))
                    tx.outbox.add(
                        f"execute:{slash_id}", "execute", {"slash_id": slash_id}, row.created_ms
                    )
            done.posted.append(row.key)
        return done

    def _post(self, row: OutboxRow) -> str:
        if row.kind == "seal":
            return self._post_seal(EpochSeal.from_dict(row.payload))
        if row.kind == "slash":
            return self._propose(row.payload)
        if row.kind == "execute":
            return self._execute(int(row.payload["slash_id"]))
        raise ChainError(f"unknown outbox kind {row.kind!r}")

    def _post_seal(self, seal: EpochSeal) -> str:
        there = self.chain.seal_of(self.chain.address, seal.epoch)
        if there is not None:
            if there.differences(seal):
                raise SealConflict(
                    f"the chain holds another seal for epoch {seal.epoch}", epoch=seal.epoch
                )
            return "already-on-chain"
        return self.chain.post_seal(ChainSeal.of(seal))

    def _propose(self, payload: dict[str, Any]) -> str:
        """Propose the slash unless the chain has it already; ``slash:<id>`` names it."""
        evidence = bytes.fromhex(payload["evidence"])
        known = self.chain.slash_id_of(self.chain.address, evidence)
        if known is not None:
            return f"slash:{known}"
        claim = self._claim(payload, evidence)
        if claim is None:
            return "nothing-to-slash"
        return f"slash:{self.chain.propose_slash(claim)}"

    def _claim(self, payload: dict[str, Any], evidence: bytes) -> SlashClaim | None:
        worker = key32(payload["worker_id"])
        amount = self.chain.stake_of(worker).slashable * int(payload["ppm"]) // 1_000_000
        if amount == 0:
            return None
        with self.store.transaction() as tx:
            job = tx.jobs.get(payload["job_id"])
            panel = tx.validations.ballots(payload["job_id"])
            against = [b.validation_job_id for b in panel if b.vote == "disagree"]
            outputs = [j.output_digest for j in tx.jobs.get_many(against) if j.output_digest]
        if job.receipt is None:
            return None
        receipt = Receipt.from_dict(job.receipt)
        chain_receipt = ChainReceipt.of(
            receipt.job_id, receipt.worker_id, receipt.output_digest, receipt.signature
        )
        consensus = digest32(outputs[0]) if outputs else _NO_OUTPUT
        return SlashClaim(
            worker=worker,
            amount=amount,
            epoch=int(payload["epoch"]),
            evidence=evidence,
            receipt_digest=chain_receipt.digest,
            job=chain_receipt.job,
            claimed_output=chain_receipt.output,
            consensus_output=consensus,
        )

    def _execute(self, slash_id: int) -> str:
        state = self.chain.slash_state(slash_id)
        if state != "pending":
            return state  # executed by someone else, or cancelled by a dispute
        return self.chain.execute_slash(slash_id)


_NO_OUTPUT = b"\x00" * 32
"""The panel's output when no validator's output is on record (it rejected the claim
without one): differs from any real digest."""

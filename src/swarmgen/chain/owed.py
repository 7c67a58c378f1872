"""What an epoch's close owes the chain, written in the closing transaction.

* ``seal:<epoch>``: the epoch's seal;
* ``slash:<epoch>:<worker>``: one slash per worker judged invalid in the epoch whose
  panels rejected at least one of its claims (the first rejected job is the receipt
  the slash names; a worker invalid only for its ballots has no claim of its own to
  name, so it is not slashed on chain). The row carries the job, the SHA-256 of the
  verdict's evidence and the share of the worker's chain stake to take
  (``slash_ppm``); the poster reads the receipt and the panel's output from the store
  when it posts, since both are settled by then and never change.

Pure data on the store's port: the coordinator imports this without web3.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from swarmgen.core.seal import EpochSeal
from swarmgen.store.port import Transaction


def evidence_digest(evidence: Any) -> str:
    """SHA-256 over the verdict's evidence as sorted, compact JSON (it holds floats, so it
    is not canonical JSON: this digest names it, it signs nothing)."""
    text = json.dumps(evidence, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def owe_epoch(tx: Transaction, seal: EpochSeal, slash_ppm: int) -> None:
    """Write the seal's row and a row per slashable invalid worker (module docstring)."""
    now = tx.book.now_ms
    tx.outbox.add(f"seal:{seal.epoch}", "seal", seal.to_dict(), now)
    for worker_id in tx.verdicts.invalid_workers(seal.epoch):
        found = tx.verdicts.get(seal.epoch, worker_id)
        evidence = found[1] if found else {}
        rejected = evidence.get("rejected_jobs") or []
        if not rejected or slash_ppm <= 0:
            continue
        payload = {
            "epoch": seal.epoch,
            "worker_id": worker_id,
            "job_id": rejected[0],
            "evidence": evidence_digest(evidence),
            "ppm": slash_ppm,
        }
        tx.outbox.add(f"slash:{seal.epoch}:{worker_id}", "slash", payload, now)

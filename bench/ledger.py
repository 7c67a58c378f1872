"""Ledger benchmark: how fast entries are appended, sealed, exported and verified.

Builds a synthetic history (grants, then per job a reserve, a release carrying a signed
receipt and a validation fee; an epoch close every ``--jobs-per-epoch`` jobs) and times:

* appending pre-decided postings to a chain (hash, rule check, balance projection);
* whole job lifecycles, including the receipt signature check in ``credits.complete``;
* sealing epochs, exporting, verifying the export, and verifying inclusion proofs.

``bench_append(target, batches)`` takes anything with ``append(postings, epoch)``: the
in-memory :class:`Ledger` here, a database-backed store later. The last line printed is
one JSON object.

    .venv/bin/python bench/ledger.py --jobs 5000
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol, TypeVar

from swarmgen.core import accounts, credits
from swarmgen.core.audit import export_lines, verify_export
from swarmgen.core.ledger import Entry, EntryKind, Ledger, Posting
from swarmgen.core.proofs import prove_job
from swarmgen.core.receipts import Receipt
from swarmgen.core.seal import EpochSeal, seal_ledger
from swarmgen.core.settlement import EpochConfig, settle_epoch
from swarmgen.core.signing import KeyPair

T = TypeVar("T")
FEE_PPM = 50_000
PRICE = 1_000


class AppendTarget(Protocol):
    """Whatever records postings: the in-memory ledger or a database store."""

    def append(self, postings: Sequence[Posting], epoch: int) -> Sequence[Entry]: ...


def _receipts(workers: Sequence[KeyPair], jobs: int) -> list[Receipt]:
    return [
        Receipt.signed(
            workers[i % len(workers)],
            job_id=f"job-{i}",
            input_digest=f"{i:064x}",
            output_digest=f"{i + 1:064x}",
            artifact_digest=f"{i + 2:064x}",
            timings={"load_ms": 5, "run_ms": 100 + i % 50},
            nonce=f"n{i}",
        )
        for i in range(jobs)
    ]


def job_postings(receipt: Receipt, requester: str) -> list[Posting]:
    """The three postings of one completed job, decided without reading balances."""
    job, fee = receipt.job_id, PRICE * FEE_PPM // 1_000_000
    escrow = accounts.escrow(job)
    memo = {credits.REQUESTER: accounts.user(requester)}
    return [
        Posting(EntryKind.RESERVE, accounts.user(requester), escrow, PRICE, job, memo),
        Posting(
            EntryKind.RELEASE,
            escrow,
            accounts.worker(receipt.worker_id),
            PRICE - fee,
            job,
            memo,
            receipt,
        ),
        Posting(EntryKind.VALIDATOR_FEE, escrow, accounts.VALIDATOR_POOL, fee, job),
    ]


def bench_append(target: AppendTarget, batches: Sequence[Sequence[Posting]]) -> float:
    """Entries appended per second when ``batches`` are appended one call each."""
    start = time.perf_counter()
    count = 0
    for batch in batches:
        count += len(target.append(batch, 0))
    return count / (time.perf_counter() - start)


class StoreAppender:
    """The database ledger as an :class:`AppendTarget`: one serialised transaction per
    call (lock, head, balances, entries, projection), as the coordinator appends."""

    def __init__(self, url: str) -> None:
        from swarmgen.store import open_store

        self.store = open_store(url)

    def append(self, postings: Sequence[Posting], epoch: int) -> Sequence[Entry]:
        with self.store.transaction(time.time_ns() // 1_000_000, ledger=True) as tx:
            return tx.book.post(postings)


def bench_store(url: str, batches: Sequence[Sequence[Posting]], grants: list[Posting]) -> dict:
    """Appends per second through the database store, and how fast it verifies itself."""
    from swarmgen.coordinator.auditing import verify_live

    target = StoreAppender(url)
    target.append(grants, 0)
    append_per_s = bench_append(target, batches)
    with target.store.transaction() as tx:
        entries = tx.ledger.count()
    verify_s, report = _timed(lambda: verify_live(target.store, KeyPair.generate().public_key))
    if not report.ok:
        raise SystemExit(f"the database ledger does not verify: {report.error}")
    return {"db_append_per_s": round(append_per_s), "db_verify_per_s": round(entries / verify_s)}


def _timed(fn: Callable[[], T]) -> tuple[float, T]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def _history(
    receipts: Sequence[Receipt],
    requesters: Sequence[str],
    per_epoch: int,
    owners: dict[str, str],
    coordinator: KeyPair,
) -> tuple[Ledger, list[EpochSeal], float]:
    """Full lifecycles through the credit transitions, with an epoch close every
    ``per_epoch`` jobs; returns the ledger, its seals and the seconds spent sealing."""
    config = EpochConfig(
        length_s=3600,
        emission_per_epoch=10**6,
        offering_shares={"echo-image@fp32": 1},
        validator_fee_ppm=FEE_PPM,
    )
    ledger, seals, sealing = Ledger(), [], 0.0
    ledger.append([credits.grant(r, PRICE * len(receipts)) for r in requesters], 0)
    for i, receipt in enumerate(receipts):
        requester = requesters[i % len(requesters)]
        epoch = ledger.epoch
        ledger.append([credits.reserve(ledger.balances, requester, receipt.job_id, PRICE)], epoch)
        ledger.append(
            credits.complete(ledger.balances, receipt.job_id, requester, receipt, FEE_PPM), epoch
        )
        if (i + 1) % per_epoch == 0:
            start = time.perf_counter()
            result = settle_epoch(ledger.open_entries, ledger.balances, config, owners=owners)
            ledger.append(result.postings, epoch)
            seals.append(seal_ledger(ledger, epoch, coordinator))
            sealing += time.perf_counter() - start
    return ledger, seals, sealing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--jobs-per-epoch", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument(
        "--db-jobs", type=int, default=1000, help="Jobs appended through the database store."
    )
    parser.add_argument(
        "--database-url", default=None, help="Store to bench (default: SQLite in a temp folder)."
    )
    args = parser.parse_args()

    workers = [KeyPair.from_seed(bytes([i + 1]) * 32) for i in range(args.workers)]
    owners = {k.public_key: f"owner{i}" for i, k in enumerate(workers)}
    requesters = [f"user{i}" for i in range(64)]
    coordinator = KeyPair.from_seed(b"c" * 32)
    receipts = _receipts(workers, args.jobs)

    raw = Ledger()
    raw.append([credits.grant(r, PRICE * args.jobs) for r in requesters], 0)
    batches = [job_postings(r, requesters[i % 64]) for i, r in enumerate(receipts)]
    append_per_s = bench_append(raw, batches)
    with tempfile.TemporaryDirectory() as scratch:
        url = args.database_url or f"sqlite:///{Path(scratch) / 'bench.db'}"
        grants = [credits.grant(r, PRICE * args.jobs) for r in requesters]
        db = bench_store(url, batches[: args.db_jobs], grants)

    lifecycle_s, built = _timed(
        lambda: _history(receipts, requesters, args.jobs_per_epoch, owners, coordinator)
    )
    ledger, seals, sealing_s = built
    entries = len(ledger.entries)

    export_s, lines = _timed(
        lambda: list(export_lines(ledger.entries, seals, coordinator.public_key))
    )
    size = sum(len(line.encode()) for line in lines)
    verify_s, report = _timed(lambda: verify_export(lines, coordinator.public_key))
    if not report.ok:
        raise SystemExit(f"the export does not verify: {report.error}")

    probes = [f"job-{i}" for i in range(0, args.jobs - args.jobs % args.jobs_per_epoch, 97)][:100]
    proofs = [prove_job(ledger.entries, seals, job) for job in probes]
    check_s, checked = _timed(lambda: [p.verify(coordinator.public_key) for p in proofs])
    if not all(checked):
        raise SystemExit("an inclusion proof does not verify")

    rows = [
        ("entries appended (no signature checks)", f"{append_per_s:,.0f} /s"),
        ("entries appended through the database store", f"{db['db_append_per_s']:,.0f} /s"),
        ("database ledger verified (with projection)", f"{db['db_verify_per_s']:,.0f} /s"),
        ("job lifecycles (reserve + complete + settle)", f"{args.jobs / lifecycle_s:,.0f} jobs/s"),
        ("epoch settle + seal", f"{sealing_s / max(1, len(seals)) * 1000:,.1f} ms/epoch"),
        ("export", f"{entries / export_s:,.0f} entries/s, {size / entries:,.0f} B/entry"),
        ("verify export (chain, receipts, roots, sums)", f"{entries / verify_s:,.0f} entries/s"),
        ("inclusion proof verify", f"{len(probes) / check_s:,.0f} jobs/s"),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"ledger benchmark: {args.jobs} jobs, {entries} entries, {len(seals)} sealed epochs")
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")
    print(
        json.dumps(
            {
                "jobs": args.jobs,
                "entries": entries,
                "append_per_s": round(append_per_s),
                "jobs_per_s": round(args.jobs / lifecycle_s),
                "seal_ms_per_epoch": round(sealing_s / max(1, len(seals)) * 1000, 2),
                "export_bytes_per_entry": round(size / entries),
                "verify_per_s": round(entries / verify_s),
                "proof_verify_per_s": round(len(probes) / check_s),
                **db,
            }
        )
    )


if __name__ == "__main__":
    main()

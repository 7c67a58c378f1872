"""Job money side by side: how many submit and completion transactions per second
PostgreSQL commits when each holds the ledger alone, and when each locks only its
accounts (decision 0027).

THREADS threads each act for their own requester and worker. Each runs JOBS jobs, a
job being two store transactions as the coordinator opens them: a *submit* (lock the
requester's balance, reserve the price into the job's escrow) and a *completion*
(release the escrow to the worker, the validator fee to the pool). Inside each, the
transaction then waits ``--hold-ms`` in the database (``pg_sleep``), standing for the
rest of a real one: the job row's insert or update, the round trips to a database on
another host. The same load runs twice:

- ``exclusive``: transactions opened with ``ledger=True`` (the ledger lock held alone:
  how every job's money moved before decision 0027);
- ``postings``: opened with ``postings=True`` (the lock shared, rows of its accounts
  locked, postings journaled).

Afterwards the journal is chained and the ledger checked: the chain replayed in order
never overdraws, and the stored balances equal its fold.

    python bench/ledger_contention.py --threads 1,4,16 --jobs 100 --hold-ms 2

Prints a table, then one JSON line with each mode's transactions per second and p50 /
p99 transaction time per thread count.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time

from sqlalchemy import text

from faults import PG_URL, postgres_schema
from swarmgen.coordinator.auditing import entries, projection_matches
from swarmgen.core import accounts, credits
from swarmgen.core.ledger import EntryKind, Posting, project
from swarmgen.store import Store, open_store

PRICE = 1_000
FEE = 50


def _hold(tx: object, hold_ms: float) -> None:
    if hold_ms > 0:
        tx.conn.execute(text("SELECT pg_sleep(:s)"), {"s": hold_ms / 1000})  # type: ignore[attr-defined]


def one_job(store: Store, mode: str, index: int, job: int, hold_ms: float) -> list[float]:
    """One job's submit and completion for requester and worker ``index``; their times."""
    user, worker, job_id = f"u{index}", f"w{index}", f"j{index}-{job}"
    flags = {"ledger": True} if mode == "exclusive" else {"postings": True}
    took = []
    started = time.perf_counter()
    with store.transaction(1, **flags) as tx:
        balances = tx.postings.balances(accounts.user(user), accounts.escrow(job_id))
        tx.postings.post([credits.reserve(balances, user, job_id, PRICE)])
        _hold(tx, hold_ms)
    took.append(time.perf_counter() - started)
    started = time.perf_counter()
    with store.transaction(2, **flags) as tx:
        escrow = accounts.escrow(job_id)
        tx.postings.balances(escrow)
        tx.postings.post(
            [
                Posting(EntryKind.RELEASE, escrow, accounts.worker(worker), PRICE - FEE, job_id),
                Posting(EntryKind.VALIDATOR_FEE, escrow, accounts.VALIDATOR_POOL, FEE, job_id),
            ]
        )
        _hold(tx, hold_ms)
    took.append(time.perf_counter() - started)
    return took


def run(url: str, mode: str, threads: int, jobs: int, hold_ms: float) -> dict[str, float]:
    store = open_store(url)
    try:
        with store.transaction(0, ledger=True) as tx:
            tx.book.post([credits.grant(f"u{i}", PRICE * jobs, "bench") for i in range(threads)])
        times: list[float] = []
        lock = threading.Lock()

        def body(index: int) -> None:
            mine = [t for job in range(jobs) for t in one_job(store, mode, index, job, hold_ms)]
            with lock:
                times.extend(mine)

        workers = [threading.Thread(target=body, args=(i,)) for i in range(threads)]
        started = time.perf_counter()
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join()
        seconds = time.perf_counter() - started
        chained = store.chain_journal()
        project(entry.posting for entry in entries(store))  # raises on an overdraft
        if not projection_matches(store):
            raise SystemExit(f"{mode}: stored balances differ from the chain")
        ms = sorted(t * 1000 for t in times)
        return {
            "tx_per_s": round(len(times) / seconds, 1),
            "p50_ms": round(statistics.median(ms), 2),
            "p99_ms": round(ms[int(len(ms) * 0.99) - 1], 2),
            "chained_after": chained,
        }
    finally:
        store.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=PG_URL, help="PostgreSQL (a schema per run)")
    parser.add_argument("--threads", default="1,4,16", help="thread counts, comma-separated")
    parser.add_argument("--jobs", type=int, default=100, help="jobs per thread")
    parser.add_argument("--hold-ms", type=float, default=2.0, help="rest of each transaction")
    args = parser.parse_args()
    counts = [int(n) for n in args.threads.split(",")]
    figures: dict[str, dict[int, dict[str, float]]] = {"exclusive": {}, "postings": {}}
    print(f"{args.jobs} jobs per thread, 2 transactions per job, each held {args.hold_ms} ms")
    print(f"{'mode':<10} {'threads':>7} {'tx/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for threads in counts:
        for mode, by_threads in figures.items():
            with postgres_schema(args.database_url, "contention") as url:
                result = run(url, mode, threads, args.jobs, args.hold_ms)
            by_threads[threads] = result
            print(
                f"{mode:<10} {threads:>7} {result['tx_per_s']:>8} "
                f"{result['p50_ms']:>8} {result['p99_ms']:>8}"
            )
    print("every run: chain replayed without an overdraft, balances equal its fold")
    speedup = {
        n: round(figures["postings"][n]["tx_per_s"] / figures["exclusive"][n]["tx_per_s"], 2)
        for n in counts
    }
    print(json.dumps({"hold_ms": args.hold_ms, "jobs": args.jobs, **figures, "speedup": speedup}))


if __name__ == "__main__":
    main()

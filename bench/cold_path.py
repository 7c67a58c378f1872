"""Where a job's latency goes at light load, in-process, and what running cold costs.

Two measurements on a coordinator app called directly as an ASGI application (SQLite in
a temporary data folder, or a fresh schema of ``--database-url``'s PostgreSQL; checks
off), as ``request_cost.py`` calls it:

1. **The critical path.** A worker's pop waits (``wait_s`` 30); 0.1 s later one job is
   submitted, and the time from the submit's call to each step is recorded until the
   pop is answered: the key lookup, the submit's service call and its queueing, the
   lease the queue change starts, the pop's waiter resuming. The steps are found by
   wrapping the services' methods for the run (a diagnostic: the names below follow
   the code). Medians over ``--jobs`` jobs, with the statements the job ran on the
   way (counted with SQLAlchemy's cursor events, so reads on the driver such as the key
   lookup are not among them) and the time spent inside their ``execute``.
2. **Hot and cold calls.** The same call in a tight loop, and right after a 5 ms sleep,
   as every request at light load runs: the API-key lookup as the store makes it
   (``Store.key_owner``), the same lookup in a read-only transaction, and an empty write
   transaction.

    python bench/cold_path.py --jobs 100
    python bench/cold_path.py --database-url postgresql://127.0.0.1:5432/test

Prints the tables, then one JSON line of the medians (milliseconds and microseconds).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import logging
import os
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

from agents import echo_result
from faults import postgres_schema
from request_cost import JOB, MODELS, App
from swarmgen.cli.common import setup_logging
from swarmgen.coordinator import jobs as job_service
from swarmgen.coordinator import workers as worker_service
from swarmgen.coordinator.admin import Admin
from swarmgen.coordinator.app import create_app
from swarmgen.coordinator.auth import hash_key
from swarmgen.coordinator.notify import Waiter
from swarmgen.coordinator.settings import CoordinatorSettings
from swarmgen.core.signing import KeyPair
from swarmgen.store import Store

MARKS: list[tuple[str, float]] = []
STATEMENTS: list[float] = []
"""Seconds each statement spent in the driver's ``execute``, since the job began."""

STEPS = [  # (object, method, label)
    (job_service.JobService, "_submit", "submit service"),
    (job_service.JobService, "_queue", "queue (statements)"),
    (worker_service.WorkerService, "_lease", "lease"),
    (Waiter, "wait", "pop waiter"),
]


def wrap(owner: Any, name: str, label: str) -> None:
    """Record when ``owner.name`` begins and ends, as ``label>`` and ``label<``."""
    inner = getattr(owner, name)
    if asyncio.iscoroutinefunction(inner):

        @functools.wraps(inner)
        async def timed_async(*args: Any, **kwargs: Any) -> Any:
            MARKS.append((label + " >", time.perf_counter()))
            try:
                return await inner(*args, **kwargs)
            finally:
                MARKS.append((label + " <", time.perf_counter()))

        setattr(owner, name, timed_async)
        return

    @functools.wraps(inner)
    def timed(*args: Any, **kwargs: Any) -> Any:
        MARKS.append((label + " >", time.perf_counter()))
        try:
            return inner(*args, **kwargs)
        finally:
            MARKS.append((label + " <", time.perf_counter()))

    setattr(owner, name, timed)


def count_statements() -> None:
    """Time every statement any engine runs into :data:`STATEMENTS`."""
    began: list[float] = []

    @event.listens_for(Engine, "before_cursor_execute")
    def before(*_args: Any) -> None:
        began.append(time.perf_counter())

    @event.listens_for(Engine, "after_cursor_execute")
    def after(*_args: Any) -> None:
        STATEMENTS.append(time.perf_counter() - began.pop())


def hot_and_cold(call: Callable[[], object], rounds: int = 300) -> tuple[float, float]:
    """Microseconds of ``call`` in a tight loop, and its median right after a 5 ms sleep."""
    for _ in range(rounds):
        call()
    started = time.perf_counter()
    for _ in range(rounds * 5):
        call()
    hot = (time.perf_counter() - started) / (rounds * 5) * 1e6
    cold = []
    for _ in range(rounds):
        time.sleep(0.005)
        began = time.perf_counter()
        call()
        cold.append((time.perf_counter() - began) * 1e6)
    return hot, statistics.median(cold)


def calls(store: Store, key: str) -> dict[str, tuple[float, float]]:
    digest = hash_key(key)

    def in_transaction() -> object:
        with store.transaction(read_only=True) as tx:
            return tx.users.by_key_hash(digest)

    def empty_write() -> None:
        with store.transaction():
            pass

    return {
        "key lookup (Store.key_owner)": hot_and_cold(lambda: store.key_owner(digest)),
        "key lookup in a read-only transaction": hot_and_cold(in_transaction),
        "empty write transaction": hot_and_cold(empty_write),
    }


async def critical_path(app: App, jobs: int) -> dict[str, float]:
    """Median ms from the submit's call to each step, over ``jobs`` jobs after 10 warm ones."""
    caps = {"models": MODELS, "max_pixels": 1 << 20, "max_batch": 4}
    await app.worker("register", "/api/v1/workers/register", {"name": "w", "capabilities": caps})
    seen: dict[str, list[float]] = defaultdict(list)
    for index in range(jobs + 10):
        body = {"max_jobs": 1, "wait_s": 30}
        pop = asyncio.create_task(app.worker("pop", "/api/v1/workers/pop", body))
        await asyncio.sleep(0.1)
        MARKS.clear()
        STATEMENTS.clear()
        started = time.perf_counter()
        submit = asyncio.create_task(app.requester("submit", "POST", "/api/v1/jobs", JOB))
        answer = await pop
        MARKS.append(("pop answered", time.perf_counter()))
        on_path, in_execute = len(STATEMENTS), sum(STATEMENTS) * 1000
        await submit
        MARKS.append(("submit answered", time.perf_counter()))
        (assignment,) = answer["jobs"]
        result = {"results": [echo_result(app.keys, assignment)]}
        await app.worker("result", "/api/v1/workers/submit", result)
        if index < 10:
            continue
        first: dict[str, float] = {}
        for label, at in MARKS:
            first.setdefault(label, at)
        for label, at in first.items():
            seen[label].append((at - started) * 1000)
        seen["statements to pop answered"].append(on_path)
        seen["ms in their execute"].append(in_execute)
    return {label: statistics.median(times) for label, times in seen.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=100, help="jobs on the critical path")
    parser.add_argument("--database-url", default=None, help="PostgreSQL (default: SQLite)")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    setup_logging(plain=True)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(open(os.devnull, "w"))  # noqa: SIM115 (for the process's life)
    for owner, name, label in STEPS:
        wrap(owner, name, label)
    count_statements()
    schema: AbstractContextManager[str | None] = nullcontext()
    if args.database_url:
        schema = postgres_schema(args.database_url, prefix="cold")
    with tempfile.TemporaryDirectory() as tmp, schema as url:
        settings = CoordinatorSettings(data=Path(tmp), database_url=url, verify=False, min_stake=0)
        admin = Admin.open(settings)
        key = admin.create_key("bench").key
        admin.credits.grant("bench", 10**15)
        timed_calls = calls(admin.store, key)
        admin.store.dispose()
        app = App(create_app(settings), key, KeyPair.generate())
        steps = asyncio.run(critical_path(app, args.jobs))
    print(f"critical path, in-process: ms from the submit's call (median of {args.jobs} jobs)")
    statements = {k: steps.pop(k) for k in ("statements to pop answered", "ms in their execute")}
    for label, ms in sorted(steps.items(), key=lambda item: item[1]):
        print(f"  {label:28s} {ms:7.2f}")
    print("statements on the way (SQLAlchemy's; the key lookup on the driver is not counted)")
    for label, value in statements.items():
        print(f"  {label:28s} {value:7.2f}")
    print("calls: µs in a tight loop, and the median right after a 5 ms sleep")
    for label, (hot, cold) in timed_calls.items():
        print(f"  {label:40s} {hot:8.1f} {cold:8.1f}")
    out: dict[str, Any] = {"jobs": args.jobs, "database": "postgresql" if url else "sqlite"}
    out["steps_ms"] = {k: round(v, 2) for k, v in steps.items()}
    out["statements"] = {k: round(v, 2) for k, v in statements.items()}
    out["calls_us"] = {k: [round(h, 1), round(c, 1)] for k, (h, c) in timed_calls.items()}
    print(json.dumps(out))


if __name__ == "__main__":
    main()

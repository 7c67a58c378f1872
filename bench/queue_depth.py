"""Queue depth: what a pop and a submit cost with 1,000 and with 100,000 jobs queued.

For each database and each depth, a fresh database is filled with DEPTH queued echo jobs
over two offerings (inserted through the store, for speed), then a coordinator starts on
it and everything measured goes through its real HTTP API on loopback:

- ``pop``: one registered worker serving both offerings pops (``wait_s`` 0, a batch of
  ``--batch``) and hands the jobs straight back with ``release``, so the queue stays
  DEPTH deep; the figure is the pop's round trip alone;
- ``submit``: a requester submits single jobs; the queue outranks it (the filling jobs
  carry a higher priority), so each answer counts the queue ahead of it in its
  ``queue_position`` as far as a count goes (``POSITION_CAP``) — the worst case.

PostgreSQL runs on a fresh schema per run (as the tests do), vacuumed and analysed
after the fill as autovacuum would be; SQLite gets no statistics (the coordinator
gathers none).

    python bench/queue_depth.py                       # SQLite, and PostgreSQL if it answers
    python bench/queue_depth.py --depths 1000,100000 --pops 300 --submits 100
    python bench/queue_depth.py --postgres-url postgresql://127.0.0.1:5432/test

Prints a table, then one JSON line: per database ``pop_p50_ms_1k``, ``pop_p50_ms_100k``
(the smallest and largest depth) and their ``ratio``, with every row measured.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from faults import postgres_schema
from swarmgen.core.jobs import ImageSpec, JobState, TextSpec
from swarmgen.core.scheduling import POSITION_CAP, queue_key
from swarmgen.core.signing import KeyPair
from swarmgen.localnet import LocalNetwork
from swarmgen.sdk.worker_client import WorkerClient
from swarmgen.store import make_engine, open_store
from swarmgen.store.records import SYSTEM_USER, JobRecord

MODELS = ["echo-image@fp32", "echo-text@fp32"]
AGING = 100
"""The coordinator's default ``aging_points_per_s``, which the filling jobs are keyed with."""
FILL_PRIORITY = 1_000_000
"""Above any requester's balance term: a submitted job queues behind every filling job."""
CHUNK = 5_000


def filler(n: int, now_ms: int, models: Sequence[str] = MODELS) -> JobRecord:
    """Queued job ``n`` of ``models`` in turn (image and text), a millisecond apart,
    oldest first."""
    offering = models[n % len(models)]
    image = offering.startswith("echo-image")
    created = now_ms - 1_000_000 + n
    spec = (
        ImageSpec(prompt=f"fill {n}", steps=4, seed=n)
        if image
        else TextSpec(prompt=f"fill {n}", max_tokens=8, seed=n)
    )
    return JobRecord(
        id=uuid.uuid4().hex,
        user_id=SYSTEM_USER,
        kind=spec.kind.value,
        offering=offering,
        spec=spec.canonical(),
        input_digest="0" * 64,
        pixels=64 * 64 if image else 0,
        priority=FILL_PRIORITY,
        queue_key=queue_key(FILL_PRIORITY, created, AGING),
        price=0,
        lease_ttl_s=30,
        state=JobState.QUEUED,
        created_ms=created,
        updated_ms=created,
    )


def fill(url: str, depth: int, models: Sequence[str] = MODELS) -> float:
    """Queue ``depth`` jobs of ``models`` at ``url`` (migrating it first); returns the
    seconds taken."""
    started = time.perf_counter()
    store = open_store(url)
    now = int(time.time() * 1000)
    try:
        for first in range(0, depth, CHUNK):
            with store.transaction() as tx:
                jobs = range(first, min(depth, first + CHUNK))
                tx.jobs.insert([filler(n, now, models) for n in jobs])
        if store.engine.dialect.name == "postgresql":
            autocommit = store.engine.execution_options(isolation_level="AUTOCOMMIT")
            with autocommit.connect() as conn:
                conn.execute(text("VACUUM ANALYZE jobs"))
    finally:
        store.dispose()
    return time.perf_counter() - started


@contextmanager
def fresh_database(kind: str, postgres_url: str) -> Iterator[str | None]:
    """A new empty database: ``None`` (the coordinator's own SQLite file in its data
    folder) or a PostgreSQL URL whose search path is a new schema, dropped afterwards."""
    if kind == "sqlite":
        yield None
        return
    with postgres_schema(postgres_url, prefix="bench") as url:
        yield url


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 10) - 1]


def measure_pops(url: str, pops: int, batch: int) -> list[float]:
    worker = WorkerClient(url, KeyPair.generate())
    try:
        worker.register("queue-depth", MODELS, 64 * 64, batch)
        for _ in range(10):  # warm up: connections, statement caches
            worker.release([j["job_id"] for j in worker.pop(0, batch)])
        times = []
        for _ in range(pops):
            started = time.perf_counter()
            jobs = worker.pop(0, batch)
            times.append((time.perf_counter() - started) * 1000)
            if len(jobs) != batch:
                raise RuntimeError(f"a pop found {len(jobs)} jobs, not {batch}")
            worker.release([j["job_id"] for j in jobs])
        return times
    finally:
        worker.close()


def measure_submits(url: str, key: str, submits: int, depth: int) -> list[float]:
    headers = {"Authorization": f"Bearer {key}"}
    body = {"kind": "text", "model": MODELS[1], "prompt": "measured", "max_tokens": 8}
    times = []
    with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
        for n in range(submits + 5):
            started = time.perf_counter()
            answer = http.post("/api/v1/jobs", json=body)
            elapsed = (time.perf_counter() - started) * 1000
            answer.raise_for_status()
            # behind the text half, or as far back as a position is counted
            if answer.json()["queue_position"] < min(depth // 2, POSITION_CAP):
                raise RuntimeError(f"queued at {answer.json()['queue_position']}")
            if n >= 5:  # the first few warm up
                times.append(elapsed)
            http.post(f"/api/v1/jobs/{answer.json()['id']}/cancel").raise_for_status()
    return times


def run(kind: str, depth: int, args: argparse.Namespace) -> dict[str, Any]:
    with (
        tempfile.TemporaryDirectory() as tmp,
        fresh_database(kind, args.postgres_url) as database_url,
    ):
        net = LocalNetwork(Path(tmp) / "data", database_url=database_url, stake=0)
        with net:
            store_url = database_url or f"sqlite:///{net.data / 'swarmgen.db'}"
            net.data.mkdir(parents=True, exist_ok=True)
            fill_s = fill(store_url, depth)
            key = net.create_key("requester")
            url = net.start_coordinator(env={"SWARMGEN_VERIFY": "false", "SWARMGEN_MIN_STAKE": "0"})
            pops = measure_pops(url, args.pops, args.batch)
            submits = measure_submits(url, key, args.submits, depth)
    return {
        "database": kind,
        "depth": depth,
        "fill_s": round(fill_s, 1),
        "pop_p50_ms": round(statistics.median(pops), 2),
        "pop_p99_ms": round(percentile(pops, 99), 2),
        "submit_p50_ms": round(statistics.median(submits), 2),
        "submit_p99_ms": round(percentile(submits, 99), 2),
    }


def postgres_answers(url: str) -> bool:
    try:
        engine = make_engine(url)
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except Exception:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depths", default="1000,100000", help="queued jobs, comma-separated")
    parser.add_argument("--pops", type=int, default=300, help="pops measured per depth")
    parser.add_argument("--submits", type=int, default=100, help="submits measured per depth")
    parser.add_argument("--batch", type=int, default=4, help="jobs per pop")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--postgres-url", default="postgresql://127.0.0.1:5432/test")
    args = parser.parse_args()
    depths = sorted(int(d) for d in args.depths.split(","))
    kinds = args.databases.split(",")
    if "postgresql" in kinds and not postgres_answers(args.postgres_url):
        print(f"PostgreSQL at {args.postgres_url} does not answer: SQLite only")
        kinds.remove("postgresql")

    rows = [run(kind, depth, args) for kind in kinds for depth in depths]
    columns = list(rows[0])
    print(f"pop ({args.batch} a pop, then released) and submit over HTTP, by queue depth")
    print("  ".join(f"{c:>13}" for c in columns))
    for row in rows:
        print("  ".join(f"{row[c]!s:>13}" for c in columns))
    summary: dict[str, Any] = {"depths": depths, "pops": args.pops, "batch": args.batch}
    for kind in kinds:
        mine = {row["depth"]: row for row in rows if row["database"] == kind}
        low, high = mine[depths[0]]["pop_p50_ms"], mine[depths[-1]]["pop_p50_ms"]
        summary[kind] = {
            "pop_p50_ms_1k": low,
            "pop_p50_ms_100k": high,
            "ratio": round(high / low, 2),
        }
    summary["rows"] = rows
    print(json.dumps(summary))


if __name__ == "__main__":
    main()

"""Dispatch throughput: how many jobs per second the coordinator moves through echo workers.

A coordinator (SQLite in a temporary data folder) and WORKERS worker processes serving
the echo backend run on loopback. A load generator keeps CONCURRENCY jobs in flight and
measures the requester's own view of latency, submit sent → completion seen. Two ways
of using the public API:

- ``batch`` (default): jobs go in with ``POST /api/v1/jobs/batch`` (up to 64 a request)
  and completions are followed with the change feed ``GET /api/v1/jobs?changed_after=``,
  as a high-volume application would (a feed numbered in commit order: with several
  processes a job committed late is still seen, so a run never stalls);
- ``single``: one ``POST /api/v1/jobs`` per job, then a status long-poll per job.

    python bench/dispatch.py --jobs 5000 --workers 3 --concurrency 512
    python bench/dispatch.py --mode single --jobs 2000 --concurrency 128
    python bench/dispatch.py --verify     # also re-execute checks (new workers: every job)
    python bench/dispatch.py --processes 3 --runs 20 --jobs 1000   # does a run ever stall?

With ``--runs N`` the measured load runs N times on one network; a run whose change feed
reports nothing for ``--stall-s`` (60 s) while jobs are out has *stalled*: it is named
with how many of its missing jobs had completed (a feed that skipped them), left out of
the figures, and counted in ``stalled_runs``.

By default the coordinator runs with ``SWARMGEN_VERIFY=false`` so the figure is dispatch
alone; with ``--verify`` every job of these new workers is re-executed by another one,
which doubles the jobs dispatched and adds the comparisons.

Prints a table, then one JSON line: {"jobs_per_s", "p50_ms", "p99_ms", "stalled_runs", ...},
with the coordinator's CPU time over the measured jobs (``server_cpu_s``: user + system
seconds of the coordinator process and its server processes, from ``/proc``; a PostgreSQL
server's own CPU is not included) and per job (``cpu_ms_per_job``).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import httpx

from swarmgen.localnet import LocalNetwork

MODELS = ["echo-image@fp32", "echo-text@fp32"]


def job_body(i: int) -> dict[str, object]:
    if i % 2:
        return {"kind": "text", "model": MODELS[1], "prompt": f"job {i}", "max_tokens": 8}
    return {"kind": "image", "model": MODELS[0], "prompt": f"job {i}", "steps": 4}


async def one_job(http: httpx.AsyncClient, i: int) -> float:
    started = time.perf_counter()
    response = await http.post("/api/v1/jobs", json=job_body(i))
    response.raise_for_status()
    job_id = response.json()["id"]
    while True:
        view = (await http.get(f"/api/v1/jobs/{job_id}", params={"wait": 30})).json()
        if view["state"] == "completed":
            return (time.perf_counter() - started) * 1000
        if view["state"] in ("failed", "cancelled"):
            raise RuntimeError(f"job {job_id} ended {view['state']}")


async def feed_head(http: httpx.AsyncClient) -> int:
    """Where the change feed stands now: the largest ``change_seq`` of this user's jobs."""
    cursor = 0
    while True:
        params = {"changed_after": cursor, "limit": 500}
        page = (await http.get("/api/v1/jobs", params=params)).json()["jobs"]
        if not page:
            return cursor
        cursor = page[-1]["change_seq"]


class Stalled(RuntimeError):
    """The change feed reported no completion for ``stall_s`` while jobs were still out."""


async def load_batched(
    url: str, key: str, jobs: int, concurrency: int, batch: int = 64, *, stall_s: float = 60.0
) -> tuple[float, list[float]]:
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=120) as http:
        sent: dict[str, float] = {}
        seen: dict[str, float] = {}
        cursor = await feed_head(http)

        async def produce() -> None:
            index = 0
            while index < jobs:
                if len(sent) - len(seen.keys() & sent.keys()) >= concurrency:
                    await asyncio.sleep(0.002)
                    continue
                count = min(batch, jobs - index, 64)
                body = {"jobs": [job_body(index + k) for k in range(count)]}
                started = time.perf_counter()
                response = await http.post("/api/v1/jobs/batch", json=body)
                response.raise_for_status()
                sent.update((a["id"], started) for a in response.json()["jobs"])
                index += count

        async def follow() -> None:
            nonlocal cursor
            progress = time.perf_counter()
            while len(sent) < jobs or not sent.keys() <= seen.keys():
                params = {"changed_after": cursor, "state": "completed", "limit": 500}
                feed = (await http.get("/api/v1/jobs", params=params)).json()["jobs"]
                now = time.perf_counter()
                for view in feed:
                    seen.setdefault(view["id"], now)
                    cursor = max(cursor, view["change_seq"])
                if feed:
                    progress = now
                elif now - progress > stall_s:
                    missing = sorted(sent.keys() - seen.keys())
                    states = [
                        (await http.get(f"/api/v1/jobs/{job_id}")).json()["state"]
                        for job_id in missing[:50]
                    ]
                    done = states.count("completed")
                    raise Stalled(
                        f"{len(missing)} jobs not reported for {stall_s:.0f} s; of the first "
                        f"{len(states)}, {done} completed (the feed skipped them)"
                    )
                if len(feed) < 500:
                    await asyncio.sleep(0.02)  # a poll every 20 ms at most

        started = time.perf_counter()
        await asyncio.gather(produce(), follow())
        seconds = time.perf_counter() - started
        return seconds, [(seen[i] - sent[i]) * 1000 for i in sent]


async def load(url: str, key: str, jobs: int, concurrency: int) -> tuple[float, list[float]]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=120) as http:
        next_index = 0
        latencies: list[float] = []

        async def runner() -> None:
            nonlocal next_index
            while next_index < jobs:
                i = next_index
                next_index += 1
                latencies.append(await one_job(http, i))

        started = time.perf_counter()
        await asyncio.gather(*(runner() for _ in range(concurrency)))
        return time.perf_counter() - started, latencies


def _stats(proc: Path) -> dict[int, tuple[int, int]]:
    """Every live process: its parent and its CPU ticks so far (user + system)."""
    out: dict[int, tuple[int, int]] = {}
    for stat in proc.glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # the process ended while we looked
            continue
        fields = text[text.rindex(")") + 2 :].split()  # after "pid (comm) "
        out[int(stat.parent.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    return out


def _tree(pid: int, stats: dict[int, tuple[int, int]]) -> set[int]:
    """``pid`` and its live descendants."""
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        kids = [child for child, (ppid, _) in stats.items() if ppid == parent and child not in tree]
        tree.update(kids)
        frontier.extend(kids)
    return tree


def tree_cpu_s(pid: int, proc: Path = Path("/proc")) -> float:
    """CPU seconds (user + system) used so far by ``pid`` and its live descendants (Linux)."""
    stats = _stats(proc)
    ticks = sum(stats[member][1] for member in _tree(pid, stats) if member in stats)
    return ticks / os.sysconf("SC_CLK_TCK")


def tree_rss_mb(pid: int, proc: Path = Path("/proc")) -> tuple[float, float]:
    """Resident memory of ``pid`` and its live descendants now, and the sum of their
    high-water marks, in MB (Linux)."""
    now = peak = 0
    for member in _tree(pid, _stats(proc)):
        try:
            status = (proc / str(member) / "status").read_text()
        except OSError:  # it ended while we looked
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        now += int(fields.get("VmRSS", "0 kB").split()[0])
        peak += int(fields.get("VmHWM", "0 kB").split()[0])
    return now / 1024, peak / 1024


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 10) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=3000, help="jobs measured")
    parser.add_argument("--warmup", type=int, default=200, help="jobs run before measuring")
    parser.add_argument("--workers", type=int, default=4, help="echo worker processes")
    parser.add_argument("--concurrency", type=int, default=128, help="jobs in flight")
    parser.add_argument("--batch", type=int, default=32, help="worker max batch per pop")
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temp dir")
    parser.add_argument("--mode", choices=["batch", "single"], default="batch")
    parser.add_argument("--processes", type=int, default=1, help="coordinator processes")
    parser.add_argument("--runs", type=int, default=1, help="measured runs on one network")
    parser.add_argument(
        "--stall-s",
        type=float,
        default=60.0,
        help="a run whose feed reports nothing this long stalled",
    )
    parser.add_argument(
        "--verify",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="re-execute sampled jobs (new workers: every job) as well; off measures dispatch",
    )
    args = parser.parse_args()

    with (
        tempfile.TemporaryDirectory() as tmp,
        LocalNetwork(Path(tmp), database_url=args.database_url) as net,
    ):
        key = net.create_key("bench")
        net.grant("bench", 10**15)
        url = net.start_coordinator(
            env={
                "SWARMGEN_MAX_ACTIVE_JOBS": str(2 * args.concurrency),
                "SWARMGEN_VERIFY": "true" if args.verify else "false",
            },
            processes=args.processes,
        )
        for i in range(args.workers):
            net.start_worker(f"echo-{i}", MODELS, "--max-batch", str(args.batch), "--threads", "1")
        run: Callable[[str, str, int, int], Coroutine[Any, Any, tuple[float, list[float]]]] = load
        if args.mode == "batch":
            run = functools.partial(load_batched, stall_s=args.stall_s)
        asyncio.run(run(url, key, args.warmup, min(args.concurrency, args.warmup)))
        server = net.procs["coordinator"].pid
        seconds, latencies, server_cpu_s, stalls = 0.0, [], 0.0, []
        for index in range(args.runs):
            cpu_before = tree_cpu_s(server)
            try:
                took, measured = asyncio.run(run(url, key, args.jobs, args.concurrency))
            except Stalled as exc:
                stalls.append(f"run {index + 1}: {exc}")
                print(f"run {index + 1}: STALLED: {exc}", file=sys.stderr)
                continue
            server_cpu_s += tree_cpu_s(server) - cpu_before
            seconds += took
            latencies += measured
            if args.runs > 1:
                print(f"run {index + 1}: {args.jobs / took:.1f} jobs/s", file=sys.stderr)

    done = args.jobs * (args.runs - len(stalls))
    figures = {
        "mode": args.mode,
        "verify": args.verify,
        "jobs": args.jobs,
        "runs": args.runs,
        "stalled_runs": len(stalls),
        "workers": args.workers,
        "concurrency": args.concurrency,
        "batch": args.batch,
        "processes": args.processes,
        "database": "postgresql" if args.database_url else "sqlite",
        "seconds": round(seconds, 3),
        "jobs_per_s": round(done / seconds, 1) if seconds else 0.0,
        "p50_ms": round(statistics.median(latencies), 1) if latencies else None,
        "p99_ms": round(percentile(latencies, 99), 1) if len(latencies) > 1 else None,
        "server_cpu_s": round(server_cpu_s, 2),
        "cpu_ms_per_job": round(server_cpu_s * 1000 / done, 3) if done else None,
    }
    how = "batch submit + change feed" if args.mode == "batch" else "submit + status long-poll"
    print(f"dispatch over HTTP on loopback ({how}), echo workers, requester-side latency")
    for name, value in figures.items():
        print(f"  {name:<12} {value}")
    for stall in stalls:
        print(f"  stalled      {stall}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()

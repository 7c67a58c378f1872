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

By default the coordinator runs with ``SWARMGEN_VERIFY=false`` so the figure is dispatch
alone; with ``--verify`` every job of these new workers is re-executed by another one,
which doubles the jobs dispatched and adds the comparisons.

Prints a table, then one JSON line: {"jobs_per_s", "p50_ms", "p99_ms", ...}, with the
coordinator's CPU time over the measured jobs (``server_cpu_s``: user + system seconds of the
coordinator process and its server processes, from ``/proc``; a PostgreSQL server's own CPU is
not included) and per job (``cpu_ms_per_job``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

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


async def load_batched(
    url: str, key: str, jobs: int, concurrency: int, batch: int = 64
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
            while len(sent) < jobs or not sent.keys() <= seen.keys():
                params = {"changed_after": cursor, "state": "completed", "limit": 500}
                feed = (await http.get("/api/v1/jobs", params=params)).json()["jobs"]
                now = time.perf_counter()
                for view in feed:
                    seen.setdefault(view["id"], now)
                    cursor = max(cursor, view["change_seq"])
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
        run = load_batched if args.mode == "batch" else load
        asyncio.run(run(url, key, args.warmup, min(args.concurrency, args.warmup)))
        server = net.procs["coordinator"].pid
        cpu_before = tree_cpu_s(server)
        seconds, latencies = asyncio.run(run(url, key, args.jobs, args.concurrency))
        server_cpu_s = tree_cpu_s(server) - cpu_before

    figures = {
        "mode": args.mode,
        "verify": args.verify,
        "jobs": args.jobs,
        "workers": args.workers,
        "concurrency": args.concurrency,
        "batch": args.batch,
        "processes": args.processes,
        "database": "postgresql" if args.database_url else "sqlite",
        "seconds": round(seconds, 3),
        "jobs_per_s": round(args.jobs / seconds, 1),
        "p50_ms": round(statistics.median(latencies), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "server_cpu_s": round(server_cpu_s, 2),
        "cpu_ms_per_job": round(server_cpu_s * 1000 / args.jobs, 3),
    }
    how = "batch submit + change feed" if args.mode == "batch" else "submit + status long-poll"
    print(f"dispatch over HTTP on loopback ({how}), echo workers, requester-side latency")
    for name, value in figures.items():
        print(f"  {name:<12} {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()

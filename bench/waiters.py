"""Waiting workers' cost: W long-polling workers held by one coordinator, idle, then light load.

A coordinator (SQLite in a temporary data folder, no checks) serves WAITERS workers, all
simulated from this one process with asyncio and httpx: each has its own Ed25519 key and
its own connection (an httpx client of its own, as a real worker has), is
registered, and long-polls ``POST /api/v1/workers/pop`` (``wait_s`` WAIT_S, batch 1) with
every request signed, as a real worker's; their first pops are spread over one WAIT_S, so
that pops end and start again at a steady rate, as a real fleet's do. Then:

1. **idle**: for IDLE_S seconds nothing is queued; the coordinator's CPU time (user +
   system of its process tree, from ``/proc``), less what it spent in an equal spell
   before any worker waited (``base_cpu_s``: its periodic tasks), per waiter per second
   is the idle cost (``idle_cpu_ms_per_waiter_s``). ``/proc`` counts CPU in clock ticks
   (10 ms), and the figure is a difference of two spells: it is read to within two
   ticks per waiter-second (``idle_resolution_ms_per_waiter_s``), and one smaller than
   that, or negative, says only that the idle cost is below it (a few waiters for a
   few seconds, as in the light-load run);
2. **light load**: JOBS single jobs are submitted one at a time, GAP_S apart; each goes to
   one waiter, which runs it (echo) and submits the signed result. Latency is submit sent →
   the waiter's pop answered with it (``assign_p50_ms``, ``assign_p99_ms``); meanwhile a
   probe worker pops with ``wait_s`` 0 every ``--probe-s`` (50 ms; ``empty_pop_p99_ms``:
   what an empty pop costs while the waiters wait). ``--waiters 1 --probe-s 0`` is light
   load as a single requester with one idle worker sees it.

With ``--queued N`` the database first holds N queued jobs of an offering no waiter
serves (``echo-text@fp32``, inserted through the store before the coordinator starts):
a queue that deep must cost the waiters nothing. ``rss_mb`` is the coordinator's
resident memory (its process tree) at the end of the idle spell, ``rss_peak_mb`` its
high-water mark.

Every pop the waiters make is recorded and reported by what became of it (``pops``):
``leased`` (answered with a job: its latency is submit → answer above), ``empty``
(answered empty after waiting its whole ``wait_s``: ``over_p99_ms`` is how far past its
wait it was answered), ``early`` (answered empty before its wait ran out: no pop should)
and ``failed`` (no answer: by error, with how long it had run and a sample message; a
pop is never retried on the same job, so a leased job whose answer was lost waits for
its lease to expire). ``client_lag_ms`` is how late this process's own event loop ran a
10 ms timer: a latency no larger than it may be the client's, not the coordinator's.

    nice -n 19 python bench/waiters.py --waiters 1000 --idle-s 30 --jobs 100

Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from agents import echo_result
from dispatch import percentile, tree_cpu_s, tree_rss_mb
from queue_depth import fill
from swarmgen.core.signing import KeyPair, sign_request
from swarmgen.localnet import LocalNetwork
from swarmgen.protocol import paths

MODEL = "echo-image@fp32"
UNSERVED = "echo-text@fp32"
"""The offering of the ``--queued`` jobs: no waiter serves it."""
POP = f"{paths.WORKERS}/pop"


@dataclass(frozen=True)
class Pop:
    """One pop a waiter made: when, for how long, and what came of it."""

    started: float
    took_s: float
    wait_s: float
    jobs: int = 0
    error: str | None = None
    """The failure's type and message, if it got no answer."""

    def outcome(self, slack_s: float = 0.5) -> str:
        if self.error is not None:
            return "failed"
        if self.jobs:
            return "leased"
        return "empty" if self.took_s >= self.wait_s - slack_s else "early"


def summarize_pops(pops: list[Pop]) -> dict[str, Any]:
    """The waiters' pops by outcome (see the module docstring)."""
    by: dict[str, list[Pop]] = defaultdict(list)
    for pop in pops:
        by[pop.outcome()].append(pop)
    over = [(p.took_s - p.wait_s) * 1000 for p in by["empty"]]
    failed: dict[str, dict[str, Any]] = {}
    for pop in by["failed"]:
        kind, _, message = (pop.error or "").partition(": ")
        entry = failed.setdefault(kind, {"count": 0, "after_s": [], "sample": message[:120]})
        entry["count"] += 1
        entry["after_s"].append(pop.took_s)
    for entry in failed.values():
        took = entry.pop("after_s")
        entry["after_s_min"], entry["after_s_max"] = round(min(took), 2), round(max(took), 2)
    return {
        "leased": len(by["leased"]),
        "empty": len(by["empty"]),
        "empty_over_p50_ms": round(statistics.median(over), 1) if over else None,
        "empty_over_p99_ms": round(percentile(over, 99), 1) if len(over) > 1 else None,
        "empty_over_max_ms": round(max(over), 1) if over else None,
        "early": len(by["early"]),
        "failed": len(by["failed"]),
        "failures": failed,
    }


def describe(exc: BaseException) -> str:
    """``Type: message`` of a failed request, its cause's message where it has none."""
    message = str(exc) or repr(exc.__cause__ or exc.__context__ or "")
    if isinstance(exc, httpx.HTTPStatusError):
        message = f"{exc.response.status_code} {exc.response.text[:100]}"
    return f"{type(exc).__name__}: {message}"


async def loop_lag(stop: asyncio.Event, every_s: float = 0.01) -> list[float]:
    """How late (ms) this process's event loop runs a timer of ``every_s``, until ``stop``."""
    lags: list[float] = []
    while not stop.is_set():
        started = time.perf_counter()
        await asyncio.sleep(every_s)
        lags.append((time.perf_counter() - started - every_s) * 1000)
    return lags


def spread(values: list[float]) -> dict[str, float | None]:
    return {
        "p50": round(statistics.median(values), 1) if values else None,
        "p99": round(percentile(values, 99), 1) if len(values) > 1 else None,
        "max": round(max(values), 1) if values else None,
    }


async def signed(http: httpx.AsyncClient, keys: KeyPair, path: str, body: object) -> Any:
    data = json.dumps(body).encode()
    headers = sign_request(keys, "POST", path, data, int(time.time()))
    headers["Content-Type"] = "application/json"
    response = await http.post(path, content=data, headers=headers)
    response.raise_for_status()
    return response.json()


class Swarm:
    """The simulated waiters and what they saw."""

    def __init__(self, http: httpx.AsyncClient, waiters: int, wait_s: float) -> None:
        self.http = http
        self.keys = [KeyPair.generate() for _ in range(waiters)]
        self.wait_s = wait_s
        self.assigned: dict[str, float] = {}
        self.pops: list[Pop] = []
        self.stop = asyncio.Event()

    async def register(self, concurrency: int = 32) -> None:
        gate = asyncio.Semaphore(concurrency)
        caps = {"models": [MODEL], "max_pixels": 1024 * 1024, "max_batch": 1}

        async def one(n: int, keys: KeyPair) -> None:
            async with gate:
                body = {"name": f"waiter-{n}", "capabilities": caps}
                await signed(self.http, keys, f"{paths.WORKERS}/register", body)

        await asyncio.gather(*(one(n, k) for n, k in enumerate(self.keys)))

    async def wait_loop(self, keys: KeyPair, delay_s: float) -> None:
        """One worker: its own connection (one client each, as real workers have), so
        no pop waits for or races another's in a shared pool."""
        async with httpx.AsyncClient(
            base_url=self.http.base_url, timeout=120, verify=False
        ) as http:
            await self._wait_loop(http, keys, delay_s)

    async def _wait_loop(self, http: httpx.AsyncClient, keys: KeyPair, delay_s: float) -> None:
        await asyncio.sleep(delay_s)  # pops spread over one wait, as workers' are
        while not self.stop.is_set():
            started = time.perf_counter()
            try:
                body = {"wait_s": self.wait_s, "max_jobs": 1}
                jobs = (await signed(http, keys, POP, body))["jobs"]
            except httpx.HTTPError as exc:
                took = time.perf_counter() - started
                self.pops.append(Pop(started, took, self.wait_s, error=describe(exc)))
                await asyncio.sleep(1.0)
                continue
            now = time.perf_counter()
            self.pops.append(Pop(started, now - started, self.wait_s, jobs=len(jobs)))
            for assignment in jobs:
                self.assigned[assignment["job_id"]] = now
            if jobs:
                results = [echo_result(keys, a) for a in jobs]
                await signed(http, keys, f"{paths.WORKERS}/submit", {"results": results})


async def probe(
    http: httpx.AsyncClient, keys: KeyPair, stop: asyncio.Event, failed: list[str], every_s: float
) -> list[float]:
    """Empty pops (``wait_s`` 0) every ``every_s`` until ``stop`` (none when it is 0): their
    latency in ms (those that got no answer go to ``failed``)."""
    took: list[float] = []
    while every_s > 0 and not stop.is_set():
        started = time.perf_counter()
        try:
            await signed(http, keys, POP, {"wait_s": 0, "max_jobs": 1})
        except httpx.HTTPError as exc:
            failed.append(describe(exc))
        else:
            took.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(every_s)
    return took


async def run(url: str, key: str, args: argparse.Namespace, server: int) -> dict[str, Any]:
    n = args.waiters + 16
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    stop_lag = asyncio.Event()
    lagging = asyncio.create_task(loop_lag(stop_lag))
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120) as http:
        swarm = Swarm(http, args.waiters, args.wait_s)
        await swarm.register()
        prober = KeyPair.generate()
        caps = {"models": ["echo-text@fp32"], "max_pixels": 64 * 64, "max_batch": 1}
        await signed(
            http, prober, f"{paths.WORKERS}/register", {"name": "probe", "capabilities": caps}
        )
        cpu_before = tree_cpu_s(server)
        await asyncio.sleep(args.idle_s)  # no waiter: the coordinator's own periodic work
        base_cpu_s = tree_cpu_s(server) - cpu_before
        step = args.wait_s / len(swarm.keys)
        tasks = [
            asyncio.create_task(swarm.wait_loop(k, n * step)) for n, k in enumerate(swarm.keys)
        ]
        await asyncio.sleep(args.wait_s + args.settle_s)  # every waiter parked on its pop
        pops_before, cpu_before = len(swarm.pops), tree_cpu_s(server)
        await asyncio.sleep(args.idle_s)
        idle_cpu_s = tree_cpu_s(server) - cpu_before
        idle_pops = len(swarm.pops) - pops_before
        rss_mb, rss_peak_mb = tree_rss_mb(server)

        stop_probe = asyncio.Event()
        probe_failed: list[str] = []
        probing = asyncio.create_task(probe(http, prober, stop_probe, probe_failed, args.probe_s))
        auth = {"Authorization": f"Bearer {key}"}
        submitted: dict[str, float] = {}
        cpu_before = tree_cpu_s(server)
        for i in range(args.jobs):
            body = {"kind": "image", "model": MODEL, "prompt": f"job {i}", "steps": 4}
            started = time.perf_counter()
            response = await http.post("/api/v1/jobs", json=body, headers=auth)
            response.raise_for_status()
            submitted[response.json()["id"]] = started
            await asyncio.sleep(args.gap_s)
        deadline = time.monotonic() + 30
        while len(set(submitted) & set(swarm.assigned)) < len(submitted):
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
        load_cpu_s = tree_cpu_s(server) - cpu_before
        stop_probe.set()
        empty = await probing
        swarm.stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    stop_lag.set()
    lags = await lagging
    late = [j for j, t in submitted.items() if swarm.assigned.get(j, t + 99) - t > 1]
    failed_at = [p.started + p.took_s for p in swarm.pops if p.error is not None]
    late_after_failure = sum(
        any(submitted[j] <= f <= swarm.assigned.get(j, float("inf")) for f in failed_at)
        for j in late
    )
    latencies = [
        (swarm.assigned[j] - t) * 1000 for j, t in submitted.items() if j in swarm.assigned
    ]
    return {
        "waiters": args.waiters,
        "wait_s": args.wait_s,
        "idle_s": args.idle_s,
        "idle_pops": idle_pops,
        "base_cpu_s": round(base_cpu_s, 3),
        "idle_cpu_s": round(idle_cpu_s, 3),
        "idle_cpu_ms_per_waiter_s": round(
            (idle_cpu_s - base_cpu_s) * 1000 / (args.waiters * args.idle_s), 4
        ),
        "idle_resolution_ms_per_waiter_s": round(
            2000 / os.sysconf("SC_CLK_TCK") / (args.waiters * args.idle_s), 4
        ),
        "queued": args.queued,
        "rss_mb": round(rss_mb, 1),
        "rss_peak_mb": round(rss_peak_mb, 1),
        "jobs": args.jobs,
        "assigned": len(latencies),
        "assign_p50_ms": round(statistics.median(latencies), 1) if latencies else None,
        "assign_p99_ms": round(percentile(latencies, 99), 1) if len(latencies) > 1 else None,
        "empty_pops": len(empty),
        "empty_pop_p50_ms": round(statistics.median(empty), 1) if empty else None,
        "empty_pop_p99_ms": round(percentile(empty, 99), 1) if len(empty) > 1 else None,
        "empty_pop_max_ms": round(max(empty), 1) if empty else None,
        "empty_pop_failed": len(probe_failed),
        "load_cpu_ms_per_job": round(load_cpu_s * 1000 / max(args.jobs, 1), 2),
        "assign_over_1s": sum(ms > 1000 for ms in latencies),
        "assign_late_after_failed_pop": late_after_failure,
        "pops": summarize_pops(swarm.pops),
        "client_lag_ms": spread(lags),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--waiters", type=int, default=1000, help="long-polling workers")
    parser.add_argument(
        "--wait-s", type=float, default=50.0, help="each pop's long-poll (the daemon's default)"
    )
    parser.add_argument(
        "--settle-s", type=float, default=10.0, help="after the first pops, before measuring"
    )
    parser.add_argument("--idle-s", type=float, default=30.0, help="idle spell measured")
    parser.add_argument("--jobs", type=int, default=100, help="single jobs at light load")
    parser.add_argument("--gap-s", type=float, default=0.1, help="between two submits")
    parser.add_argument("--database-url", default=None, help="default: SQLite in a temp dir")
    parser.add_argument(
        "--probe-s", type=float, default=0.05, help="between two empty probe pops (0: none)"
    )
    parser.add_argument(
        "--queued", type=int, default=0, help="jobs queued beforehand, for no waiter"
    )
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        LocalNetwork(Path(tmp), database_url=args.database_url, stake=0) as net,
    ):
        if args.queued:
            net.data.mkdir(parents=True, exist_ok=True)
            store_url = args.database_url or f"sqlite:///{net.data / 'swarmgen.db'}"
            fill(store_url, args.queued, models=[UNSERVED])
        key = net.create_key("bench")
        net.grant("bench", 10**15)
        url = net.start_coordinator(
            env={"SWARMGEN_VERIFY": "false", "SWARMGEN_MIN_STAKE": "0"},
        )
        figures = asyncio.run(run(url, key, args, net.procs["coordinator"].pid))
    figures["database"] = "postgresql" if args.database_url else "sqlite"
    print(f"{args.waiters} long-polling workers on one coordinator: idle, then single jobs")
    for name, value in figures.items():
        print(f"  {name:<26} {value}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()

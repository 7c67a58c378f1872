"""The coordinator's CPU per request, measured in-process: no sockets, no client, no noise.

The coordinator app (SQLite in a temporary data folder, checks off, no stake asked) is
called directly as an ASGI application from this process, with requests built before
the clock starts (worker requests signed, results signed, as the worker daemon signs
them). Only the app's calls are timed, with the process's CPU clock (``process_time``:
every thread, so the database work the app hands to its threads is counted). What an
HTTP server adds (uvicorn parsing and writing the bytes: about 0.1 ms a request here)
and what a client costs are left out, and so is the work of the other processes the
loopback benches (``dispatch.py``, ``waiters.py``) run beside the coordinator. The
periodic tasks do not run. A busy host still moves the figures (by a tenth or more
between runs here): compare versions with runs interleaved, and read the spread.

Each figure is microseconds of CPU per request, or per job for the batch rows:

- ``empty_pop``: a signed ``POST /api/v1/workers/pop`` with ``wait_s`` 0 and nothing queued;
- ``submit``, ``pop_one``, ``result_one``: one job through ``POST /api/v1/jobs``, the pop
  that leases it, and the signed submission of its result;
- ``batch_submit``, ``batch_pop``, ``batch_result`` (per job): BATCH jobs through
  ``POST /api/v1/jobs/batch``, one pop leasing them all, one submission of their results;
- ``status``: ``GET /api/v1/jobs/{id}`` of a completed job.

    python bench/request_cost.py --rounds 5 --jobs 400 --batch 32

Prints a table (the median of ``--rounds`` rounds, and the spread), then one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from agents import echo_result
from swarmgen.cli.common import setup_logging
from swarmgen.coordinator.admin import Admin
from swarmgen.coordinator.app import create_app
from swarmgen.coordinator.settings import CoordinatorSettings
from swarmgen.core.signing import KeyPair, sign_request

MODELS = ["echo-image@fp32", "echo-text@fp32"]
JOB = {"kind": "image", "model": MODELS[0], "prompt": "a red circle", "steps": 4}
ASGI = Callable[..., Any]


class App:
    """The app called directly, one request at a time, with its CPU time kept per name."""

    def __init__(self, app: ASGI, api_key: str, keys: KeyPair) -> None:
        self.app = app
        self.api_key = api_key
        self.keys = keys
        self.cpu_s: dict[str, float] = defaultdict(float)

    async def call(
        self, name: str, method: str, path: str, headers: Mapping[str, str], body: bytes = b""
    ) -> Any:
        """The JSON answer of one request; its CPU time counts under ``name``."""
        received = False

        async def receive() -> dict[str, Any]:
            nonlocal received
            if received:  # the hang-up watch: the client never goes
                await asyncio.Event().wait()
            received = True
            return {"type": "http.request", "body": body, "more_body": False}

        status, chunks = 0, []

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        path, _, query = path.partition("?")
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]
            + [(b"host", b"127.0.0.1")],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
        }
        started = time.process_time()
        await self.app(scope, receive, send)
        self.cpu_s[name] += time.process_time() - started
        answer = json.loads(b"".join(chunks) or b"null")
        if status >= 300:
            raise RuntimeError(f"{method} {path}: {status} {answer}")
        return answer

    def requester(self, name: str, method: str, path: str, payload: Any = None) -> Any:
        headers = {"authorization": f"Bearer {self.api_key}", "content-type": "application/json"}
        body = b"" if payload is None else json.dumps(payload).encode()
        return self.call(name, method, path, headers, body)

    def worker(self, name: str, path: str, payload: Any) -> Any:
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = sign_request(self.keys, "POST", path, body, int(time.time()))
        headers["content-type"] = "application/json"
        return self.call(name, "POST", path, headers, body)


async def one_round(app: App, jobs: int, batch: int) -> dict[str, float]:
    """One pass over every request kind; microseconds of CPU per request (or job)."""
    app.cpu_s.clear()
    for _ in range(jobs):
        assert (await app.worker("empty_pop", "/api/v1/workers/pop", {"wait_s": 0}))["jobs"] == []
    last = ""
    for _ in range(jobs):
        last = (await app.requester("submit", "POST", "/api/v1/jobs", JOB))["id"]
        (assignment,) = (await app.worker("pop_one", "/api/v1/workers/pop", {"max_jobs": 1}))[
            "jobs"
        ]
        result = {"results": [echo_result(app.keys, assignment)]}
        await app.worker("result_one", "/api/v1/workers/submit", result)
    for _ in range(jobs):
        await app.requester("status", "GET", f"/api/v1/jobs/{last}")
    for _ in range(max(1, jobs // batch)):
        await app.requester("batch_submit", "POST", "/api/v1/jobs/batch", {"jobs": [JOB] * batch})
        leased = await app.worker("batch_pop", "/api/v1/workers/pop", {"max_jobs": batch})
        assert len(leased["jobs"]) == batch, leased
        results = {"results": [echo_result(app.keys, a) for a in leased["jobs"]]}
        await app.worker("batch_result", "/api/v1/workers/submit", results)
    counts = {"empty_pop": jobs, "submit": jobs, "pop_one": jobs, "result_one": jobs}
    counts["status"] = jobs
    rounds = max(1, jobs // batch)
    counts |= {k: rounds * batch for k in ("batch_submit", "batch_pop", "batch_result")}
    return {name: app.cpu_s[name] / counts[name] * 1e6 for name in counts}


async def measure(args: argparse.Namespace, data: Path) -> list[dict[str, float]]:
    settings = CoordinatorSettings(data=data, verify=False, min_stake=0)
    admin = Admin.open(settings)
    try:
        api_key = admin.create_key("bench").key
        admin.credits.grant("bench", 10**15)
    finally:
        admin.store.dispose()
    app = App(create_app(settings), api_key, KeyPair.generate())
    caps = {"models": MODELS, "max_pixels": 1 << 20, "max_batch": max(args.batch, 1)}
    await app.worker("register", "/api/v1/workers/register", {"name": "w", "capabilities": caps})
    await one_round(app, max(args.jobs // 4, 20), args.batch)  # warm: caches, statements
    return [await one_round(app, args.jobs, args.batch) for _ in range(args.rounds)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds (median)")
    parser.add_argument("--jobs", type=int, default=400, help="requests of each kind a round")
    parser.add_argument("--batch", type=int, default=32, help="jobs per batch request")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    setup_logging(plain=True)  # the job event lines are part of the cost, not the terminal
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(open(os.devnull, "w"))  # noqa: SIM115 (for the process's life)
    with tempfile.TemporaryDirectory() as tmp:
        import uvloop

        rounds = uvloop.run(measure(args, Path(tmp)))
    figures = {name: statistics.median(r[name] for r in rounds) for name in rounds[0]}
    print(f"coordinator CPU per request, in-process ASGI calls, median of {args.rounds} rounds")
    print(f"  {'request':14s} {'µs':>8s} {'min':>8s} {'max':>8s}")
    for name, value in figures.items():
        low, high = min(r[name] for r in rounds), max(r[name] for r in rounds)
        print(f"  {name:14s} {value:8.0f} {low:8.0f} {high:8.0f}")
    one_job = figures["submit"] + figures["pop_one"] + figures["result_one"]
    batched = figures["batch_submit"] + figures["batch_pop"] + figures["batch_result"]
    print(f"  one job alone (submit + pop + result): {one_job:.0f} µs")
    print(f"  one job in batches of {args.batch}: {batched:.0f} µs")
    out = {k: round(v, 1) for k, v in figures.items()}
    out |= {"one_job_us": round(one_job, 1), "batched_job_us": round(batched, 1)}
    print(json.dumps({"rounds": args.rounds, "jobs": args.jobs, "batch": args.batch, **out}))


if __name__ == "__main__":
    main()

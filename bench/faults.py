"""Fault campaign: coordinator replicas killed with SIGKILL and workers churned, under load.

REPLICAS coordinator processes share one PostgreSQL (a fresh schema, dropped at the end)
and one bucket on a local S3-API server (moto's), behind a round-robin balancer on
loopback; WORKERS echo workers (each its own owner and stake) and one requester use the
balancer. While the requester submits JOBS jobs (batches of BATCH, each under an
Idempotency-Key the SDK resends after a lost answer) and follows the change feed:

- every KILL_EVERY_S seconds one replica gets SIGKILL (the leader first, then in turn)
  and is started again a second later, KILLS times in all;
- every CHURN_EVERY_S seconds CHURN of the workers get SIGKILL and as many fresh ones
  start (new keys, new owners);
- a prober asks ``/healthz`` through the balancer every 50 ms.

Then it waits for every accepted job to finish and for the epoch after the last to
close, exports the ledger and checks it (``swarmgen ledger verify``: chain, seals,
signatures, conservation), and counts:

- ``lost``: accepted jobs that never completed;
- ``paid_twice``: jobs reserved (charged) more than once or released (paid) more than
  once, plus charges for jobs the requester was never told of (a retried submit that
  queued a second job);
- ``honest_invalid``: workers (all honest here) judged invalid or slashed;
- ``refunded``: jobs whose earnings went back to the requester (with no one invalid:
  their check was
  abandoned: no two owners agreed on it by the close after its epoch);
- ``double_closes``: epochs sealed more than once;
- ``healthz_p99_ms``: the prober's p99 (a refused probe counts as its timeout, 2 s).

    python bench/faults.py                         # 3 replicas, 10 kills, 30 % churn
    python bench/faults.py --jobs 2000 --kills 1   # the e2e's shape at full size
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from swarmgen.core.accounts import account_id
from swarmgen.core.audit import load_export
from swarmgen.core.ledger import EntryKind
from swarmgen.localnet import LocalNetwork
from swarmgen.processes import free_port
from swarmgen.sdk.client import Client, SwarmgenAPIError, image_job, text_job

MODELS = ["echo-image@fp32", "echo-text@fp32"]
PG_URL = os.environ.get("SWARMGEN_TEST_PG", "postgresql://127.0.0.1:5432/test")
S3_ENV = {
    "AWS_ACCESS_KEY_ID": "swarmgen-bench",
    "AWS_SECRET_ACCESS_KEY": "swarmgen-bench-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}
PROBE_TIMEOUT_S = 2.0


@dataclass
class Campaign:
    """What one run did and saw."""

    accepted: dict[str, int] = field(default_factory=dict)
    """Job id → price, for every job the requester was told was queued."""
    final: dict[str, str] = field(default_factory=dict)
    probes_ms: list[float] = field(default_factory=list)
    kills: list[str] = field(default_factory=list)
    churned: int = 0
    failovers_s: list[float] = field(default_factory=list)
    restart_failures: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)


@contextmanager
def postgres_schema(base: str = PG_URL, prefix: str = "faults") -> Iterator[str]:
    """A fresh schema on ``base`` (its URL with the search path set), dropped afterwards."""
    from sqlalchemy import text

    from swarmgen.store import make_engine

    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = make_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{base}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def s3_bucket() -> Iterator[dict[str, str]]:
    """A local S3-API server with one bucket: the replicas' ``SWARMGEN_*`` and AWS env."""
    import boto3
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        os.environ.update(S3_ENV)
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="swarmgen-faults")
        yield {
            **S3_ENV,
            "SWARMGEN_BLOB_STORE": "s3",
            "SWARMGEN_S3_BUCKET": "swarmgen-faults",
            "SWARMGEN_S3_ENDPOINT_URL": endpoint,
        }
    finally:
        server.stop()


def submit_all(client: Client, jobs: int, batch: int, run: Campaign) -> None:
    for start in range(0, jobs, batch):
        bodies = [
            image_job(f"job {i}", MODELS[0], steps=4)
            if i % 2 == 0
            else text_job(MODELS[1], prompt=f"job {i}", max_tokens=8)
            for i in range(start, min(jobs, start + batch))
        ]
        while True:
            try:  # resent under its key by the SDK if the answer is lost
                accepted = client.submit_many(bodies)
                break
            except SwarmgenAPIError as exc:
                if exc.status != 429:  # too many active jobs: nothing was queued, wait
                    raise
                time.sleep(1.0)
        for one in accepted:
            run.accepted[one["id"]] = one["price"]


def follow(client: Client, run: Campaign) -> None:
    """Follow the change feed until told to stop, noting each job's final state."""
    cursor = 0
    while not run.stop.is_set():
        try:
            page = client.jobs(changed_after=cursor, limit=500)
        except Exception:  # a replica died under the request: ask again
            time.sleep(0.2)
            continue
        for view in page:
            cursor = max(cursor, view["change_seq"])
            if view["state"] in ("completed", "failed", "cancelled"):
                run.final[view["id"]] = view["state"]
        if len(page) < 500:
            time.sleep(0.2)


def probe(url: str, run: Campaign) -> None:
    with httpx.Client(timeout=PROBE_TIMEOUT_S) as http:
        while not run.stop.is_set():
            started = time.perf_counter()
            try:
                http.get(f"{url}/healthz").raise_for_status()
                run.probes_ms.append((time.perf_counter() - started) * 1000)
            except httpx.HTTPError:
                run.probes_ms.append(PROBE_TIMEOUT_S * 1000)
            time.sleep(0.05)


def kill_replicas(
    net: LocalNetwork, kills: int, every_s: float, env: dict[str, str], run: Campaign
) -> None:
    names = sorted(net.replicas)
    for i in range(kills):
        if run.stop.wait(every_s):
            return
        victim = net.leader() if i == 0 else names[i % len(names)]
        victim = victim or names[i % len(names)]
        was_leader = victim == net.leader()
        stamp = time.strftime("%Y-%m-%d %H:%M:%S,000", time.localtime())
        net.stop(victim, signal.SIGKILL)
        killed_at = time.monotonic()
        net.replicas.pop(victim, None)  # the balancer skips its port until it is back
        run.kills.append(victim)
        if was_leader:  # time until another replica claims the leadership after the kill
            while time.monotonic() - killed_at < 30 and net.leader(since=stamp) is None:
                time.sleep(0.05)
            run.failovers_s.append(time.monotonic() - killed_at)
        time.sleep(max(0.0, 1.0 - (time.monotonic() - killed_at)))
        if run.stop.is_set():
            return
        try:
            net.start_replica(victim, timeout=180, env=env)
        except (RuntimeError, TimeoutError) as exc:  # counted, and the campaign goes on
            run.restart_failures.append(f"{victim}: {exc}")


def churn_workers(net: LocalNetwork, share: float, every_s: float, run: Campaign) -> None:
    rng = random.Random(7)
    serial = 1000
    while not run.stop.wait(every_s):
        workers = [n for n in net.procs if n.startswith("w")]
        for name in rng.sample(workers, max(1, round(share * len(workers)))):
            net.stop(name, signal.SIGKILL)
            run.churned += 1
        while len([n for n in net.procs if n.startswith("w")]) < len(workers):
            serial += 1
            try:  # staking goes through the API, which a replica's death may cut off
                net.start_worker(f"w{serial}", MODELS, "--max-batch", "4")
            except httpx.HTTPError:
                if run.stop.wait(1.0):
                    return


def audit(net: LocalNetwork, run: Campaign, out: Path) -> dict[str, Any]:
    """Export and verify the ledger; count what was lost, paid twice or judged wrongly."""
    cli = [sys.executable, "-m", "swarmgen.cli.main", "ledger"]
    where = ["--data", str(net.data), "--database-url", str(net.database_url)]
    export = out / "ledger.jsonl"
    subprocess.run([*cli, "export", str(export), *where], check=True, capture_output=True)
    verified = subprocess.run(
        [*cli, "verify", str(export)], check=False, capture_output=True, text=True
    )
    ledger = load_export(export.read_text().splitlines(keepends=True))
    postings = [(e.epoch, e.posting) for e in ledger.entries]
    reserves = Counter(p.job_id for _, p in postings if p.kind is EntryKind.RESERVE)
    releases = Counter(p.job_id for _, p in postings if p.kind is EntryKind.RELEASE)
    # the requester's account: the one its accepted jobs were charged to
    payer = {
        p.debit for _, p in postings if p.kind is EntryKind.RESERVE and p.job_id in run.accepted
    }
    requester_jobs = {
        p.job_id for _, p in postings if p.kind is EntryKind.RESERVE and p.debit in payer
    }
    seals = Counter(s.epoch for s in ledger.seals)
    slashed = {account_id(p.debit) for _, p in postings if p.kind is EntryKind.SLASH}
    invalid = {
        account_id(p.debit)
        for _, p in postings
        if p.kind is EntryKind.VERDICT and int(p.memo.get("invalid", 0))
    }
    punished = slashed | invalid
    refunded = sum(1 for _, p in postings if p.kind is EntryKind.FORFEIT)
    lost = [j for j in run.accepted if run.final.get(j) != "completed"]
    return {
        "accepted": len(run.accepted),
        "completed": sum(1 for j in run.accepted if run.final.get(j) == "completed"),
        "lost": len(lost),
        "paid_twice": sum(1 for n in reserves.values() if n > 1)
        + sum(1 for n in releases.values() if n > 1)
        + len(requester_jobs - set(run.accepted)),
        "unreserved": len(set(run.accepted) - set(reserves)),
        "honest_invalid": len(punished),
        "refunded": refunded,
        "epochs_sealed": len(seals),
        "double_closes": sum(1 for n in seals.values() if n > 1),
        "ledger_ok": verified.returncode == 0,
        "ledger_report": verified.stdout.strip()[-400:],
    }


def campaign(
    net: LocalNetwork,
    *,
    replicas: int,
    workers: int,
    jobs: int,
    batch: int,
    kills: int,
    kill_every_s: float,
    churn: float,
    churn_every_s: float,
    env: dict[str, str],
    settle_s: float = 180.0,
) -> dict[str, Any]:
    """Run the campaign on ``net`` (not started yet); returns the audited figures."""
    url = net.start_replicas(replicas, env=env)
    requester = "requester"
    key = net.create_key(requester)
    net.grant(requester, 10**12)
    for i in range(workers):
        net.start_worker(f"w{i}", MODELS, "--max-batch", "4")
    run = Campaign()
    started = time.monotonic()
    threads = [
        threading.Thread(target=probe, args=(url, run), daemon=True),
        threading.Thread(
            target=kill_replicas, args=(net, kills, kill_every_s, env, run), daemon=True
        ),
    ]
    if churn > 0:
        threads.append(
            threading.Thread(
                target=churn_workers, args=(net, churn, churn_every_s, run), daemon=True
            )
        )
    with Client(url, key, timeout=30) as client, Client(url, key, timeout=30) as feed:
        follower = threading.Thread(target=follow, args=(feed, run), daemon=True)
        for thread in [*threads, follower]:
            thread.start()
        try:
            submit_all(client, jobs, batch, run)
            submitted_s = time.monotonic() - started
            # faults go on while the queue drains, until the last kill is done
            threads[1].join(kills * (kill_every_s + 200) + 10)
            deadline = time.monotonic() + settle_s
            while time.monotonic() < deadline and any(
                run.final.get(j) != "completed" for j in run.accepted
            ):
                time.sleep(0.5)
            elapsed_s = time.monotonic() - started
        finally:  # no fault may outlive the run (the network is torn down next)
            run.stop.set()
            for thread in [*threads, follower]:
                thread.join(200)
        epoch = client.balance()["epoch"]
        # the epoch the last job ran in closes: wait for the one after it to begin
        wait_until = time.monotonic() + 60
        while client.balance()["epoch"] <= epoch + 1 and time.monotonic() < wait_until:
            time.sleep(0.5)
    figures = audit(net, run, net.data)
    probes = sorted(run.probes_ms)
    return {
        **figures,
        "replicas": replicas,
        "workers": workers,
        "kills": len(run.kills),
        "restart_failures": len(run.restart_failures),
        "churned_workers": run.churned,
        "failover_s_max": round(max(run.failovers_s), 2) if run.failovers_s else None,
        "healthz_p50_ms": round(statistics.median(probes), 1) if probes else None,
        "healthz_p99_ms": round(probes[int(0.99 * (len(probes) - 1))], 1) if probes else None,
        "probes": len(probes),
        "submit_s": round(submitted_s, 1),
        "elapsed_s": round(elapsed_s, 1),
    }


def settings_env(epoch_s: int) -> dict[str, str]:
    """Settings of every replica: short epochs (several close during a run), quick
    leader checks, and this machine's new workers at their stake."""
    return {
        "SWARMGEN_EPOCH_LENGTH_S": str(epoch_s),
        "SWARMGEN_EPOCH_CHECK_S": "0.2",
        "SWARMGEN_LEADER_CHECK_S": "0.5",
        "SWARMGEN_REAP_INTERVAL_S": "0.5",
        "SWARMGEN_MAX_ACTIVE_JOBS": "100000",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--workers", type=int, default=6)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--kill-every-s", type=float, default=4.0)
    parser.add_argument("--churn", type=float, default=0.3)
    parser.add_argument("--churn-every-s", type=float, default=6.0)
    parser.add_argument("--epoch-s", type=int, default=10)
    parser.add_argument("--lease-min-s", type=int, default=5)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        postgres_schema() as database_url,
        s3_bucket() as s3_env,
        LocalNetwork(
            Path(tmp) / "data", database_url=database_url, lease_min_s=args.lease_min_s
        ) as net,
    ):
        result = campaign(
            net,
            replicas=args.replicas,
            workers=args.workers,
            jobs=args.jobs,
            batch=args.batch,
            kills=args.kills,
            kill_every_s=args.kill_every_s,
            churn=args.churn,
            churn_every_s=args.churn_every_s,
            env={**s3_env, **settings_env(args.epoch_s)},
        )
    print("fault campaign: replicas on PostgreSQL + S3 (moto) behind a loopback balancer")
    print(f"{'measure':<22} value")
    for name in (
        "accepted", "completed", "lost", "paid_twice", "unreserved", "honest_invalid", "refunded",
        "epochs_sealed", "double_closes", "ledger_ok", "kills", "restart_failures",
        "churned_workers", "failover_s_max", "healthz_p50_ms", "healthz_p99_ms", "probes",
        "submit_s", "elapsed_s",
    ):  # fmt: skip
        print(f"{name:<22} {result[name]}")
    print(json.dumps({k: v for k, v in result.items() if k != "ledger_report"}))


if __name__ == "__main__":
    main()

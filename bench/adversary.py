"""Adversary bench: a network adversary against verification.

Every section runs a real coordinator on loopback (:class:`~swarmgen.localnet.
LocalNetwork`, SQLite, verification on) with echo workers in this process, each one
registered under an owner and staked through the stake API.

Section ``recognise``: honest workers under several owners, a requester that keeps
work coming, and an adversarial owner whose workers record everything a worker can
see of each job they lease:

* the assignment's fields (model, every spec field, seed, prompt length, sampling id,
  whether its input digest was seen before) and its lease length;
* timing: how long the pop took, how long since that key's last submit, the job's
  place in its batch and the batch's size;
* the public ledger at pop time (is the job in the export; does its proof exist);
* the public network view at pop time (``/api/v1/stats`` queue, running and done
  counts; ``/api/v1/models`` queue depth of the job's model);
* the job as a requester sees it (``GET /api/v1/jobs/{id}`` with the owner's own key);
* after the fact: the heartbeat's answer and how long the submit took.

Every job of a new worker is checked, so about half of the leased jobs are
validations. After the run the coordinator's database says which were; a decision
stump per feature and a logistic regression, trained on half the jobs, predict it for
the other half (:mod:`classifier`). The target is chance.

Sections ``capture``, ``starve``, ``late``, ``timing``, ``rotate`` (:mod:`network`),
each at every stake share of ``--shares`` (the adversary's locked stake over all
locked stake), on a fresh coordinator with short epochs and leases:

* ``capture``: a key cheats on every job; a colluding key of another owner polls
  without waiting and submits the partner's exact output on any seat of its panels;
* ``starve``: as capture, but the colluder holds those seats under heartbeats and never
  submits;
* ``late``: the cheater holds each cheated job under heartbeats and submits half a
  second before the close;
* ``timing``: honest work, every receipt claiming a 1 ms run;
* ``rotate``: cheats on every job and moves to a fresh key (stake moved along) every 30.

For each: the share of its checked claims upheld (and escaped: upheld or abandoned for
want of an agreeing panel, refunded but not slashed), when its owner was first declared
invalid (epoch and seconds into the run, or never), and its credits (balance plus stake,
from the coordinator's ledger) minus those of an honest owner with the same hardware and
stake, beside the spread of two other honest owners' credits (the run's noise). Section
``churn``: honest workers only, 30 % of them crashing while they hold jobs, every other
one back an epoch later; how many are declared invalid.

    python bench/adversary.py --jobs 1000

runs everything (about 15 minutes on an idle two-core machine); ``--sections`` picks
sections, ``--shares`` the stake shares, ``--epochs`` and ``--net-epoch-s`` size the
strategy runs, ``--max-s`` stops starting new runs after that long. It prints a table
per section, then one JSON line with ``validation_classifier_accuracy`` (features a
worker has before it runs the job), ``validation_classifier_accuracy_after_submit``,
``max_upheld_share``, ``max_escaped_share``, ``all_strategies_lose``,
``honest_invalid`` (churn), ``honest_invalid_under_attack`` and ``strategies`` (every
figure per strategy and share).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from agents import CREDIT, MIN_STAKE, Agent, Owner, echo_result, honest
from classifier import evaluate
from network import STRATEGIES, TIMING_TOLERANCE, Churn, Options, Outcome, churn, run
from swarmgen.coordinator.admin import open_store
from swarmgen.coordinator.settings import CoordinatorSettings
from swarmgen.core.signing import KeyPair
from swarmgen.localnet import LocalNetwork
from swarmgen.sdk.client import SwarmgenAPIError
from swarmgen.sdk.worker_client import WorkerClient

MODELS = ["echo-image@fp32", "echo-text@fp32"]


def job_body(rng: random.Random, i: int) -> dict[str, object]:
    """A requester's job: image or text, of varied size, with a unique prompt."""
    prompt = f"job {i} " + "x" * rng.randrange(0, 40)
    if rng.random() < 0.5:
        return {"kind": "text", "model": MODELS[1], "prompt": prompt,
                "max_tokens": rng.choice([4, 8, 16])}  # fmt: skip
    side = rng.choice([64, 128])
    return {"kind": "image", "model": MODELS[0], "prompt": prompt,
            "steps": rng.choice([2, 4, 8]), "width": side, "height": side}  # fmt: skip


@dataclass
class Ledger:
    """The public export as the adversary last read it (at most every ``every_s``: reading
    the whole export is the costliest thing it does)."""

    http: httpx.Client
    every_s: float = 5.0
    jobs: set[str] = field(default_factory=set)
    read_at: float = -1e9

    def refresh(self) -> None:
        if time.monotonic() - self.read_at < self.every_s:
            return
        self.read_at = time.monotonic()
        found: set[str] = set()
        for line in self.http.get("/api/v1/ledger/export").text.splitlines():
            value = json.loads(line)
            if value.get("type") == "entry" and value.get("job_id"):
                found.add(value["job_id"])
        self.jobs = found


@dataclass
class Adversary:
    """Workers of one owner that lease, observe, run honestly and submit, one thread each."""

    url: str
    owner_key: str
    keys: int
    rows: list[tuple[str, dict[str, float], dict[str, float]]] = field(default_factory=list)
    digests: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    deadline: float = math.inf

    def run(self, wanted: int, max_s: float) -> None:
        """Observe until ``wanted`` jobs are leased or ``max_s`` seconds have passed."""
        self.deadline = time.monotonic() + max_s
        threads = [
            threading.Thread(target=self._one, args=(f"eve-{i}", wanted)) for i in range(self.keys)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _one(self, name: str, wanted: int) -> None:
        http = httpx.Client(base_url=self.url, timeout=30)
        owner = {"Authorization": f"Bearer {self.owner_key}"}
        ledger = Ledger(http)
        worker = WorkerClient(self.url, KeyPair.generate(), owner_key=self.owner_key)
        worker.register(name, MODELS, 128 * 128, 4)
        worker.lock_stake(MIN_STAKE)
        submitted = time.monotonic()
        while len(self.rows) < wanted and time.monotonic() < self.deadline:
            started = time.monotonic()
            try:
                popped = worker.pop(1.0, 4)
            except SwarmgenAPIError as exc:  # an overloaded machine: try again
                print(f"pop refused: {exc}", file=sys.stderr)
                continue
            now = time.monotonic()
            wall_ms = time.time() * 1000
            if not popped:
                continue
            ledger.refresh()
            stats = http.get("/api/v1/stats").json()
            depth = {m["model"]: m for m in http.get("/api/v1/models").json()["models"]}
            mine = []
            for index, a in enumerate(popped):
                seen = http.get(f"/api/v1/jobs/{a['job_id']}", headers=owner)
                proof = http.get(f"/api/v1/ledger/proofs/{a['job_id']}")
                before = {
                    "lease_ms": a["lease_expires_ms"] - wall_ms,
                    "pop_ms": (now - started) * 1000,
                    "since_submit_ms": (started - submitted) * 1000,
                    "batch_size": len(popped),
                    "batch_index": index,
                    "text": float(a["model"] == MODELS[1]),
                    "seed": a["spec"].get("seed", 0) / 2**32,
                    "prompt_len": len(a["spec"].get("prompt", "")),
                    "has_sampling_id": float(a["sampling_id"] is not None),
                    "in_export": float(a["job_id"] in ledger.jobs),
                    "proof_status": proof.status_code,
                    "requester_status": seen.status_code,
                    "requester_body": len(seen.text.replace(a["job_id"], "")),
                    "stats_queued": stats["queued"],
                    "stats_running": stats["running"],
                    "stats_done_last_minute": stats["done_last_minute"],
                    "model_queued": depth.get(a["model"], {}).get("queued", 0),
                }
                for key, value in a["spec"].items():
                    if isinstance(value, int | float) and key != "seed":
                        before[f"spec.{key}"] = float(value)
                with self.lock:
                    before["digest_seen"] = float(a["input_digest"] in self.digests)
                    self.digests.add(a["input_digest"])
                mine.append((a["job_id"], before, {}))
            beat = worker.heartbeat([a["job_id"] for a in popped])
            sent = time.monotonic()
            try:
                worker.submit([echo_result(worker.keys, a) for a in popped])
            except SwarmgenAPIError as exc:  # a lease lost under load: still observed
                print(f"submit refused: {exc}", file=sys.stderr)
            submitted = time.monotonic()
            for _, _, after in mine:
                after["heartbeat"] = float(beat.get("count", 0))
                after["submit_ms"] = (submitted - sent) * 1000
            with self.lock:
                self.rows.extend(mine)
                if len(self.rows) // 100 != (len(self.rows) - len(mine)) // 100:
                    print(f"{len(self.rows)} jobs observed", file=sys.stderr)
        http.close()
        worker.close()


def keep_busy(url: str, key: str, stop: threading.Event, rate: float, seed: int) -> None:
    """Submit ordinary jobs until stopped: ``rate`` a second on average, at random
    (exponential) intervals, alone or in small batches, as many requesters would."""
    rng = random.Random(seed)
    with httpx.Client(base_url=url, timeout=30, headers={"Authorization": f"Bearer {key}"}) as http:
        i = 0
        while not stop.is_set():
            count = rng.choice([1, 1, 1, 2, 3, 4])
            jobs = [job_body(rng, i + k) for k in range(count)]
            i += count
            if count == 1:
                http.post("/api/v1/jobs", json=jobs[0])
            else:
                http.post("/api/v1/jobs/batch", json={"jobs": jobs})
            stop.wait(rng.expovariate(rate / count))


def labels(data: Path, ids: list[str]) -> dict[str, bool]:
    """Which leased jobs were validations, from the coordinator's own database."""
    store = open_store(CoordinatorSettings(data=data))
    try:
        with store.transaction() as tx:
            return {job.id: job.validates is not None for job in tx.jobs.get_many(ids)}
    finally:
        store.dispose()


def matrix(rows: list[dict[str, float]], names: list[str]) -> np.ndarray:
    return np.array([[row.get(name, 0.0) for name in names] for row in rows], dtype=np.float64)


def recognise(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        net = LocalNetwork(data, lease_min_s=120)
        with net:
            env = {"SWARMGEN_EPOCH_LENGTH_S": str(args.epoch_s), "SWARMGEN_EPOCH_CHECK_S": "0.5"}
            net.start_coordinator(env=env)
            requester = net.create_key("requester")
            net.grant("requester", 10**15)
            stop = threading.Event()
            honest_agents = []
            for i in range(args.workers):
                name = f"owner-{i % args.owners}"
                owner = Owner(name, net.create_key(name))
                net.grant(name, MIN_STAKE)  # what its worker locks
                agent = Agent(net.url, f"honest-{i}", owner, MIN_STAKE, honest, 0.0, stop,
                              pop_wait_s=1.0, max_jobs=4)  # fmt: skip
                agent.join()
                agent.start()
                honest_agents.append(agent)
            adversary = Adversary(net.url, net.create_key("eve"), args.keys)
            net.grant("eve", args.keys * MIN_STAKE)  # every key stakes
            load = threading.Thread(
                target=keep_busy, args=(net.url, requester, stop, args.rate, args.seed)
            )
            load.start()
            started = time.monotonic()
            try:
                adversary.run(args.jobs, args.max_s)
            finally:
                stop.set()
                load.join()
                for agent in honest_agents:
                    agent.close()
            elapsed = time.monotonic() - started
        truth = labels(data, [job_id for job_id, _, _ in adversary.rows])
    rows = [(truth[j], before, after) for j, before, after in adversary.rows if j in truth]
    y = np.array([label for label, _, _ in rows])
    before_names = sorted({k for _, before, _ in rows for k in before})
    after_names = sorted({k for _, _, after in rows for k in after})
    seen = evaluate(matrix([b for _, b, _ in rows], before_names), y, before_names, args.seed)
    both = [{**b, **a} for _, b, a in rows]
    names = before_names + after_names
    later = evaluate(matrix(both, names), y, names, args.seed)
    return {"rows": len(rows), "validations": int(y.sum()), "elapsed": elapsed,
            "before": seen, "after": later}  # fmt: skip


def report(result: dict[str, Any], out: Callable[[str], None] = print) -> dict[str, Any]:
    seen, later = result["before"], result["after"]
    out(f"recognise validations: {result['rows']} leased jobs, {result['validations']} "
        f"validations, {result['elapsed']:.0f} s; held-out half: {seen.trials} jobs, "
        f"chance {seen.chance:.3f}")  # fmt: skip
    out(f"{'feature':<24}{'train':>8}{'test':>8}")
    for score in later.stumps:
        out(f"{score.name:<24}{score.train:>8.3f}{score.test:>8.3f}")
    for label, evaluation in (("before running", seen), ("after submit", later)):
        low, high = evaluation.interval
        verdict = "at chance" if evaluation.at_chance else "ABOVE CHANCE"
        stump = evaluation.best_stump
        out(f"{label}: best stump {stump.name} {stump.test:.3f}, logistic "
            f"{evaluation.logistic.test:.3f}; accuracy {evaluation.accuracy:.3f} "
            f"[{low:.3f}, {high:.3f}], {verdict}")  # fmt: skip
    low, high = seen.interval
    return {
        "section": "recognise",
        "validation_classifier_accuracy": round(seen.accuracy, 4),
        "validation_classifier_ci95": [round(low, 4), round(high, 4)],
        "validation_classifier_chance": round(seen.chance, 4),
        "validation_classifier_at_chance": seen.at_chance,
        "validation_classifier_accuracy_after_submit": round(later.accuracy, 4),
        "validation_classifier_after_submit_at_chance": later.at_chance,
        "leased_jobs": result["rows"],
        "validation_share": round(result["validations"] / max(result["rows"], 1), 4),
    }


def net_rows(outcomes: list[Outcome], out: Callable[[str], None] = print) -> None:
    out(f"{'strategy':<10}{'share':>7}{'claims':>8}{'checked':>8}{'upheld':>8}{'escaped':>8}{'paid':>6}"
        f"{'invalid at':>12}{'gain':>12}{'noise':>10}{'loses':>7}{'honest inv':>11}")  # fmt: skip
    for o in outcomes:
        when = (
            "never" if o.invalidated_s is None else f"e{o.invalidated_epoch} {o.invalidated_s:.0f}s"
        )
        out(
            f"{o.strategy:<10}{o.share:>7.0%}{o.claims:>8}{o.checked:>8}"
            f"{o.upheld_share:>8.1%}{o.escaped_share:>8.1%}{o.paid:>6}{when:>12}"
            f"{o.gain / CREDIT:>12.2f}"
            f"{o.noise / CREDIT:>10.2f}{'yes' if o.loses else 'NO':>7}{o.honest_invalid:>11}"
        )
    out(
        "gain and noise in credits: the adversary's credits minus an honest owner's with the "
        "same hardware and stake; noise is how far two other equal honest owners differ. The "
        "timing liar loses when its lie bought no speed: the speed the coordinator observed "
        f"for it (lease to completion) at most {TIMING_TOLERANCE} times its twin's. Timing "
        "rows, observed / claimed speed over its twin's, and emission per unit over its "
        "twin's: "
        + ", ".join(
            f"{o.share:.0%} {_ratio(o.speed_ratio)} / {_ratio(o.claimed_ratio)}, "
            f"{_ratio(o.emission_ratio)}"
            for o in outcomes
            if o.strategy == "timing"
        )
    )


def _ratio(value: float | None) -> str:
    return "none" if value is None else f"{value:.2f}"


def outcome_json(o: Outcome) -> dict[str, Any]:
    return {
        "share": o.share, "claims": o.claims, "checked": o.checked, "upheld": o.upheld,
        "rejected": o.rejected, "abandoned": o.abandoned, "paid": o.paid,
        "upheld_share": round(o.upheld_share, 4),
        "escaped_share": round(o.escaped_share, 4), "invalidated_epoch": o.invalidated_epoch,
        "invalidated_s": None if o.invalidated_s is None else round(o.invalidated_s, 1),
        "gain": o.gain, "noise": o.noise, "emission_ratio": o.emission_ratio,
        "speed_ratio": o.speed_ratio, "claimed_ratio": o.claimed_ratio,
        "loses": o.loses,
        "honest_invalid": o.honest_invalid, "seconds": round(o.seconds, 1),
    }  # fmt: skip


def summarise(
    recognised: dict[str, Any] | None, outcomes: list[Outcome], churned: Churn | None
) -> dict[str, Any]:
    """The one JSON line: headline figures, then every section's own."""
    summary: dict[str, Any] = dict(recognised or {})
    summary.setdefault("validation_classifier_accuracy", None)
    summary["max_upheld_share"] = (
        round(max(o.upheld_share for o in outcomes), 4) if outcomes else None
    )
    summary["max_escaped_share"] = (
        round(max(o.escaped_share for o in outcomes), 4) if outcomes else None
    )
    summary["all_strategies_lose"] = all(o.loses for o in outcomes) if outcomes else None
    summary["strategies"] = {
        name: {f"{o.share:g}": outcome_json(o) for o in outcomes if o.strategy == name}
        for name in dict.fromkeys(o.strategy for o in outcomes)
    }
    summary["honest_invalid_under_attack"] = sum(o.honest_invalid for o in outcomes)
    summary["honest_invalid"] = None if churned is None else churned.honest_invalid
    if churned is not None:
        summary["churn"] = {"workers": churned.workers, "killed": churned.killed,
                            "restarted": churned.restarted,
                            "seconds": round(churned.seconds, 1)}  # fmt: skip
    summary.pop("section", None)
    return summary


SECTIONS = ["recognise", *STRATEGIES, "churn"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", default=",".join(SECTIONS),
                        help=f"Comma-separated, of: {', '.join(SECTIONS)}.")  # fmt: skip
    parser.add_argument("--section", choices=SECTIONS, help="One section only.")
    parser.add_argument("--shares", default="0.01,0.1,0.33",
                        help="Adversary stake shares for the strategy sections.")  # fmt: skip
    parser.add_argument("--jobs", type=int, default=1000, help="Jobs the adversary leases.")
    parser.add_argument("--workers", type=int, default=2, help="Honest echo workers.")
    parser.add_argument("--owners", type=int, default=2, help="Owners of the honest workers.")
    parser.add_argument("--keys", type=int, default=3, help="The adversary's worker keys.")
    parser.add_argument("--rate", type=float, default=30.0, help="Ordinary jobs per second.")
    parser.add_argument("--epoch-s", type=int, default=10, help="Epoch length (recognise).")
    parser.add_argument("--net-epoch-s", type=int, default=4, help="Epoch length (strategies).")
    parser.add_argument("--epochs", type=int, default=4, help="Epochs of work per strategy run.")
    parser.add_argument("--settle", type=int, default=3, help="Closes to wait for checks after.")
    parser.add_argument("--run-s", type=float, default=0.3, help="Simulated honest run time.")
    parser.add_argument("--net-rate", type=float, default=12.0, help="Jobs/s in strategy runs.")
    parser.add_argument("--max-s", type=float, default=1800, help="Stop observing after this.")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    sections = [args.section] if args.section else args.sections.split(",")
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections: {', '.join(sorted(unknown))}")
    options = Options(epoch_s=args.net_epoch_s, epochs=args.epochs, settle=args.settle,
                      run_s=args.run_s, rate=args.net_rate, seed=args.seed)  # fmt: skip
    shares = [float(x) for x in args.shares.split(",")]
    if not all(0 < share < 0.5 for share in shares):
        parser.error("--shares: each share must be above 0 and below 0.5 (the twin holds as much)")
    deadline = time.monotonic() + args.max_s
    recognised = None
    if "recognise" in sections:
        recognised = report(recognise(args))
    outcomes = []
    for strategy in [s for s in STRATEGIES if s in sections]:
        for share in shares:
            if time.monotonic() > deadline:
                print(f"--max-s reached: {strategy} at {share:.0%} not run", file=sys.stderr)
                continue
            outcomes.append(run(strategy, share, options))
            print(f"{strategy} at {share:.0%}: {outcome_json(outcomes[-1])}", file=sys.stderr)
    if outcomes:
        net_rows(outcomes)
    churned = None
    if "churn" in sections and time.monotonic() < deadline:
        churned = churn(options)
        print(
            f"churn: {churned.workers} honest workers, {churned.killed} killed "
            f"({churned.restarted} restarted): {churned.honest_invalid} declared invalid"
        )
    print(json.dumps(summarise(recognised, outcomes, churned), sort_keys=True))


if __name__ == "__main__":
    main()

"""In-process workers for the adversary bench: honest, cheating and colluding keys.

Each :class:`Agent` is one worker key in a thread of the bench's process, talking to a
real coordinator over loopback with the signed :class:`~swarmgen.sdk.worker_client.
WorkerClient`: it registers under its owner's API key, locks stake through the stake
API (always: a coordinator may refuse to serve unstaked workers), pops one job at a
time and hands each to its :class:`Behaviour`. Honest work is the echo backend after
``run_s`` of simulated compute; a cheat is a noise image derived from the job's input
digest, produced at once (the compute it saves is what cheating is for). Because the
noise is a function of the input digest, colluding keys that know which inputs their
partner claimed can submit the partner's exact output on a seat of its panel.
"""

from __future__ import annotations

import hashlib
import io
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from swarmgen.backends.echo import EchoBackend
from swarmgen.core.jobs import ImageSpec, Job, spec_from_canonical
from swarmgen.core.leases import LEASE_MAX_FACTOR
from swarmgen.core.offerings import Offering
from swarmgen.core.outputs import ImageOutput, Output
from swarmgen.core.receipts import Receipt
from swarmgen.core.signing import KeyPair
from swarmgen.protocol.workers import MAX_HELD
from swarmgen.sdk.client import SwarmgenAPIError
from swarmgen.sdk.worker_client import WorkerClient
from swarmgen.worker.daemon import result_payload

IMAGE_MODEL = "echo-image@fp32"
MODELS = [IMAGE_MODEL, "echo-text@fp32"]
CREDIT = 1_000_000
"""Micro-credits in a credit."""
MIN_STAKE = 5 * CREDIT
"""What every bench worker locks at least: the smallest stake a coordinator asks for."""


def job_of(assignment: dict[str, Any]) -> Job:
    return Job(assignment["job_id"], Offering.parse(assignment["model"]),
               spec_from_canonical(assignment["spec"]),
               sampling_id=assignment["sampling_id"])  # fmt: skip


def noise_png(width: int, height: int, key: str) -> bytes:
    """Random pixels seeded by ``key``: the same for every colluder that knows it."""
    seed = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def honest_output(job: Job) -> Output:
    (output,) = EchoBackend(job.offering, job.kind).run([job])
    return output


def cheated_output(job: Job) -> Output:
    """Noise of the right size, a function of the job's input (so colluders agree)."""
    spec = job.spec
    if not isinstance(spec, ImageSpec):
        return honest_output(job)  # the bench cheats on image jobs only
    digest = job.input_digest()
    return ImageOutput(tuple(noise_png(spec.width, spec.height, f"{digest}:{i}")
                             for i in range(spec.n)))  # fmt: skip


def lease_cap(assignment: dict[str, Any]) -> float:
    """When the coordinator takes a leased job back however many heartbeats arrive
    (wall-clock seconds; the assignment carries the first lease's expiry)."""
    expires_s = int(assignment["lease_expires_ms"]) / 1000
    leased_s = float(assignment.setdefault("_leased_s", time.time()))
    return leased_s + LEASE_MAX_FACTOR * (expires_s - leased_s)


def echo_result(keys: KeyPair, assignment: dict[str, Any]) -> dict[str, Any]:
    """A signed echo result for ``assignment``, as the worker daemon would submit it."""
    offering = Offering.parse(assignment["model"])
    job = Job(assignment["job_id"], offering, spec_from_canonical(assignment["spec"]),
              sampling_id=assignment["sampling_id"])  # fmt: skip
    (output,) = EchoBackend(offering, job.kind).run([job])
    return payload(keys, job, output, run_ms=1)


def payload(keys: KeyPair, job: Job, output: Output, run_ms: int) -> dict[str, Any]:
    receipt = Receipt.signed(
        keys,
        job_id=job.id,
        input_digest=job.input_digest(),
        output_digest=output.digest(),
        artifact_digest=output.digest(),
        timings={"run_ms": run_ms},
    )
    return result_payload(job, output, receipt)


@dataclass
class Owner:
    """An owner account: its API key, and every worker key it has run."""

    name: str
    key: str
    workers: list[str] = field(default_factory=list)
    user_id: str = ""
    """The coordinator's id of the owner (read from the balance API)."""


@dataclass
class Collusion:
    """What coordinated keys share: the inputs their cheating partner has claimed."""

    claimed: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def claim(self, digest: str) -> None:
        with self.lock:
            self.claimed.add(digest)

    def knows(self, digest: str) -> bool:
        with self.lock:
            return digest in self.claimed


@dataclass
class EpochWatch:
    """When each epoch was first seen open (from the stake API's ``epoch``), so a late
    submitter can time its submits and the bench can say when a verdict landed."""

    started: dict[int, float] = field(default_factory=dict)

    def note(self, epoch: int) -> None:
        self.started.setdefault(epoch, time.monotonic())

    @property
    def current(self) -> int:
        return max(self.started, default=0)

    def next_close(self, length_s: float) -> float:
        return self.started.get(self.current, time.monotonic()) + length_s


Behaviour = Callable[["Agent", list[dict[str, Any]]], None]
"""What a key does with the jobs one pop gave it (the agent's ``submit``/``hold``)."""


@dataclass
class Agent:
    """One worker key in a thread: register, stake, pop and act (see the module docstring)."""

    url: str
    name: str
    owner: Owner
    stake: int
    behaviour: Behaviour
    run_s: float
    stop: threading.Event
    pop_wait_s: float = 0.5
    max_jobs: int = 1
    keys: KeyPair = field(default_factory=KeyPair.generate)
    submitted: list[str] = field(default_factory=list)
    """Every job id this key had accepted (claims and seats alike)."""
    held: dict[str, tuple[dict[str, Any], float]] = field(default_factory=dict)
    """Jobs a holding behaviour keeps under heartbeats: assignment, when to submit."""
    killed: threading.Event = field(default_factory=threading.Event)
    rekeyed_at: int = 0
    """``len(submitted)`` when this key was made (a rotating owner's count per key)."""
    client: WorkerClient | None = None
    thread: threading.Thread | None = None

    def join(self) -> None:
        """Register under the owner and lock stake (through the real stake API)."""
        self.client = WorkerClient(self.url, self.keys, owner_key=self.owner.key, timeout=60)
        self.client.register(self.name, MODELS, 256 * 256, 4)
        if self.stake:
            self.client.lock_stake(self.stake)
        if self.keys.public_key not in self.owner.workers:
            self.owner.workers.append(self.keys.public_key)

    def rekey(self) -> None:
        """Unbond this key's stake and go on under a fresh key of the same owner."""
        assert self.client is not None
        if self.stake:
            self.client.unlock_stake(self.stake)
        self.client.close()
        self.keys = KeyPair.generate()
        self.rekeyed_at = len(self.submitted)
        self.join()

    def start(self) -> None:
        self.thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self.thread.start()

    def kill(self) -> None:
        """Stop at once, holding whatever it leased (a crash: no release, no heartbeat)."""
        self.killed.set()

    def _loop(self) -> None:
        assert self.client is not None
        while not (self.stop.is_set() or self.killed.is_set()):
            try:
                self._beat()
                popped = self.client.pop(self.pop_wait_s, self.max_jobs)
                if popped and not self.killed.is_set():
                    self.behaviour(self, popped)
            except SwarmgenAPIError as exc:  # a lease lost under load, a refused pop
                print(f"{self.name}: {exc}", file=sys.stderr)
                time.sleep(0.2)
            except Exception as exc:  # a bench thread must not die silently
                print(f"{self.name}: {type(exc).__name__}: {exc}", file=sys.stderr)
                time.sleep(0.5)

    def _beat(self) -> None:
        """Keep held jobs under heartbeats; submit those whose time has come."""
        if not self.held:
            return
        assert self.client is not None
        now = time.monotonic()
        due = [a for a, at in self.held.values() if at <= now]
        if due:
            self.submit(due, cheat=True)
            for assignment in due:
                self.held.pop(assignment["job_id"], None)
        for job_id in [j for j, (a, _) in self.held.items() if lease_cap(a) <= time.time()]:
            del self.held[job_id]  # taken back at the lease cap: nothing left to hold
        held = sorted(self.held)
        for start in range(0, len(held), MAX_HELD):
            self.client.heartbeat(held[start : start + MAX_HELD])

    def hold(self, assignment: dict[str, Any], until: float) -> None:
        lease_cap(assignment)  # stamps when it was leased
        self.held[assignment["job_id"]] = (assignment, until)

    def submit(self, assignments: list[dict[str, Any]], cheat: bool, run_ms: int | None = None,
               ) -> None:  # fmt: skip
        """Run (or fake) and submit; an honest run takes ``run_s`` first."""
        assert self.client is not None
        started = time.monotonic()
        if not cheat and self.run_s:
            time.sleep(self.run_s * len(assignments))
        results = []
        for assignment in assignments:
            job = job_of(assignment)
            output = cheated_output(job) if cheat else honest_output(job)
            took = run_ms if run_ms is not None else int((time.monotonic() - started) * 1000)
            results.append(payload(self.keys, job, output, took))
        try:
            self.client.submit(results)
        except SwarmgenAPIError as exc:  # e.g. a lease taken back at its cap
            print(f"{self.name}: submit refused: {exc}", file=sys.stderr)
            return
        self.submitted.extend(a["job_id"] for a in assignments)

    def close(self) -> None:
        if self.thread is not None:
            self.thread.join(timeout=30)
        if self.client is not None:
            self.client.close()


# behaviours -------------------------------------------------------------------------


def honest(agent: Agent, popped: list[dict[str, Any]]) -> None:
    agent.submit(popped, cheat=False)


def timing_liar(agent: Agent, popped: list[dict[str, Any]]) -> None:
    """Honest work, but every receipt claims a 1 ms run."""
    agent.submit(popped, cheat=False, run_ms=1)


def cheater(collusion: Collusion) -> Behaviour:
    """Cheat on every job, telling the colluders which inputs it claimed."""

    def act(agent: Agent, popped: list[dict[str, Any]]) -> None:
        for assignment in popped:
            collusion.claim(assignment["input_digest"])
        agent.submit(popped, cheat=True)

    return act


def voter(collusion: Collusion) -> Behaviour:
    """A seat on the partner's panel gets the partner's output; other jobs honest work."""

    def act(agent: Agent, popped: list[dict[str, Any]]) -> None:
        mine = [a for a in popped if collusion.knows(a["input_digest"])]
        rest = [a for a in popped if not collusion.knows(a["input_digest"])]
        if mine:
            agent.submit(mine, cheat=True)
        if rest:
            agent.submit(rest, cheat=False)

    return act


def squatter(collusion: Collusion) -> Behaviour:
    """A seat on the partner's panel is held under heartbeats and never submitted."""

    def act(agent: Agent, popped: list[dict[str, Any]]) -> None:
        rest = []
        for assignment in popped:
            if collusion.knows(assignment["input_digest"]):
                agent.hold(assignment, until=float("inf"))
            else:
                rest.append(assignment)
        if rest:
            agent.submit(rest, cheat=False)

    return act


def late(watch: EpochWatch, length_s: float, margin_s: float) -> Behaviour:
    """Cheat on every job, held under heartbeats until ``margin_s`` before the close."""

    def act(agent: Agent, popped: list[dict[str, Any]]) -> None:
        close = watch.next_close(length_s)
        for assignment in popped:
            agent.hold(assignment, until=close - margin_s)

    return act


def rotator(per_key: int) -> Behaviour:
    """Cheat on every job, moving to a fresh key (stake moved along) every ``per_key``
    accepted jobs, so no key carries more than ``per_key`` claims."""

    def act(agent: Agent, popped: list[dict[str, Any]]) -> None:
        agent.submit(popped, cheat=True)
        if len(agent.submitted) - agent.rekeyed_at >= per_key:
            agent.rekey()

    return act

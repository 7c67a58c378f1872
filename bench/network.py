"""Network strategies against a real coordinator, measured from its API and ledger.

One run starts a coordinator on loopback (SQLite, short epochs, verification on) and
puts in-process workers (:mod:`agents`) under four kinds of owner:

* the adversary: two keys playing the strategy (the colluding keys of ``capture`` and
  ``starve`` under a second owner, since a panel never seats the claimant's own owner);
* ``twin``, ``twin2`` and ``others``: honest owners with the adversary's hardware (two
  keys each, the same simulated run time). ``twin`` also locks the adversary's stake and
  is the honest owner the adversary is compared with; ``twin2`` and ``others`` hold the
  rest of the stake in equal parts, and the difference of their credits is the run's
  noise floor.

Stake is locked through the stake API so that the adversary (and its twin) each hold
``share`` of all locked stake, so a share must be below one half. A requester keeps
the queue full of small image jobs for ``epochs`` epochs; then the workers keep serving
seats for ``settle`` more closes (no new work) so checks settle and held earnings are
paid or forfeited. Every figure is read back:
credits from the balance and stake APIs, claims, checks and verdicts from the
coordinator's database after it stops, epoch boundaries as the API reported them.
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from agents import (
    IMAGE_MODEL,
    MIN_STAKE,
    Agent,
    Behaviour,
    Collusion,
    EpochWatch,
    Owner,
    cheater,
    honest,
    late,
    rotator,
    squatter,
    timing_liar,
    voter,
)
from swarmgen.coordinator.admin import open_store
from swarmgen.coordinator.settings import CoordinatorSettings
from swarmgen.core import accounts
from swarmgen.core.jobs import JobState, spec_from_canonical
from swarmgen.core.ledger import EntryKind
from swarmgen.core.rewards import Run, observed_speeds
from swarmgen.localnet import LocalNetwork

STRATEGIES = ["capture", "starve", "late", "timing", "rotate"]
TIMING_TOLERANCE = 1.25
"""Most the timing liar's speed as the coordinator observed it may exceed its honest
twin's and still count as having gained nothing by its lie (equal owners differ by
dispatch order)."""
KEYS = 2
"""Worker keys of the adversary, and of each honest owner."""
HONEST = ("twin", "twin2", "others")
"""The honest owners, each with the adversary's hardware (:data:`KEYS` keys, same run time)."""
PER_KEY = 30
"""Most claims a rotating owner puts on one key."""


@dataclass(frozen=True)
class Options:
    epoch_s: int = 4
    epochs: int = 4
    settle: int = 3
    run_s: float = 0.3
    lease_s: int = 2
    rate: float = 12.0
    seed: int = 0


@dataclass
class Outcome:
    """What one strategy at one stake share came to."""

    strategy: str
    share: float
    claims: int = 0
    """Jobs the adversary's cheating keys completed (every one cheated)."""
    checked: int = 0
    upheld: int = 0
    rejected: int = 0
    abandoned: int = 0
    paid: int = 0
    """Cheated claims whose earnings were paid out."""
    invalidated_epoch: int | None = None
    invalidated_s: float | None = None
    gain: int = 0
    """Adversary's credits minus ``twin``'s (micro-credits)."""
    noise: int = 0
    """How far two honest owners of the same hardware and stake (``twin2``, ``others``)
    differ in credits in this run (dispatch order, seats drawn, speed as observed)."""
    emission_ratio: float | None = None
    """Timing liar only: its emission per unit of work over its twin's (noisy: an epoch's
    emission is split over the few jobs released in it, so an owner whose work falls in a
    thin epoch earns more per unit without being faster)."""
    speed_ratio: float | None = None
    """Timing liar only: its speed over its twin's, each the median over its completed
    jobs of what the coordinator observed (lease to completion per million work units,
    :func:`~swarmgen.core.rewards.observed_speeds`: the only speed the emission split
    weighs). The lie should move nothing (a ratio near 1)."""
    claimed_ratio: float | None = None
    """Timing liar only: the same ratio from what the receipts claimed (``run_ms``): the
    size of the lie, had receipts fed the split."""
    honest_invalid: int = 0
    seconds: float = 0.0
    credits: dict[str, int] = field(default_factory=dict)

    @property
    def upheld_share(self) -> float:
        return self.upheld / self.checked if self.checked else 0.0

    @property
    def escaped_share(self) -> float:
        """Checked claims that were not rejected: upheld, or abandoned for want of an
        agreeing panel (an abandoned check is counted for no one: its claim is refunded,
        not paid, but neither is it slashed)."""
        return (self.upheld + self.abandoned) / self.checked if self.checked else 0.0

    @property
    def loses(self) -> bool:
        """Cheated claims must cost credits. A strategy without cheated output (the
        timing liar) does honest work, so it can at best earn what honesty does: it
        loses when its lie earned nothing, the speed the emission split weighed for it no
        more than :data:`TIMING_TOLERANCE` times its twin's. (Its credits against its
        twin's are a difference of two equal owners: above a single noise draw one run in
        four; so is its emission per unit, which swung from 0.56 to 2.32 over runs.)"""
        if self.strategy == "timing":
            return self.speed_ratio is not None and self.speed_ratio <= TIMING_TOLERANCE
        return self.gain < 0


def stakes(share: float, adversary: int, honest_keys: int) -> tuple[int, int]:
    """Per-key stake (adversary, honest) so that the adversary holds ``share`` of the total,
    every key at least :data:`MIN_STAKE`."""
    ratio = share / (1 - share)  # adversary total / honest total
    honest_each = max(MIN_STAKE, int(MIN_STAKE * adversary / (ratio * honest_keys)) + 1)
    adversary_each = int(honest_each * honest_keys * ratio / adversary)
    if adversary_each < MIN_STAKE:
        honest_each = int(MIN_STAKE * adversary / (ratio * honest_keys)) + 1
        adversary_each = MIN_STAKE
    return adversary_each, honest_each


def keep_queue_full(url: str, key: str, stop: threading.Event, rate: float, seed: int) -> None:
    """Submit small image jobs (``rate`` a second, in batches) until stopped."""
    rng = random.Random(seed)
    with httpx.Client(base_url=url, timeout=30, headers={"Authorization": f"Bearer {key}"}) as http:
        i = 0
        while not stop.is_set():
            jobs = [{"kind": "image", "model": IMAGE_MODEL, "prompt": f"job {i + k}",
                     "steps": 2, "width": 64, "height": 64} for k in range(4)]  # fmt: skip
            i += 4
            http.post("/api/v1/jobs/batch", json={"jobs": jobs})
            stop.wait(rng.expovariate(rate / 4))


def watch_epochs(url: str, key: str, watch: EpochWatch, stop: threading.Event) -> None:
    with httpx.Client(base_url=url, timeout=30, headers={"Authorization": f"Bearer {key}"}) as http:
        while not stop.is_set():
            try:
                watch.note(int(http.get("/api/v1/credits/balance").json()["epoch"]))
            except (httpx.HTTPError, KeyError, ValueError) as exc:
                print(f"epoch watch: {exc}", file=sys.stderr)
            stop.wait(0.2)


def user_id(url: str, owner: Owner) -> str:
    headers = {"Authorization": f"Bearer {owner.key}"}
    seen = httpx.get(f"{url}/api/v1/credits/balance", headers=headers, timeout=30).json()
    return str(seen["user_id"])


def holdings(data: Path, owners: list[Owner]) -> dict[str, int]:
    """Each owner's credits in the coordinator's ledger: its balance plus the stake
    (locked and unbonding) behind every key it ever ran."""
    store = open_store(CoordinatorSettings(data=data))
    try:
        with store.transaction() as tx:
            balances = tx.ledger.balances()
    finally:
        store.dispose()
    return {
        owner.name: balances.get(accounts.user(owner.user_id), 0)
        + sum(
            balances.get(accounts.stake(w), 0) + balances.get(accounts.unbonding(w), 0)
            for w in owner.workers
        )
        for owner in owners
    }


def emission_per_unit(data: Path, owners: dict[str, Owner]) -> dict[str, float]:
    """Each owner's emission (micro-credits) per unit of work it completed and was paid
    for, from the coordinator's ledger and jobs."""
    store = open_store(CoordinatorSettings(data=data))
    try:
        with store.transaction(read_only=True) as tx:
            emitted = tx.ledger.kind_entries(EntryKind.EMISSION)
            released = tx.ledger.kind_entries(EntryKind.RELEASE)
            jobs = {j.id: j for j in tx.jobs.get_many(e.job_id for e in released if e.job_id)}
    finally:
        store.dispose()
    owner_of = {key: name for name, owner in owners.items() for key in owner.workers}
    minted: dict[str, int] = {}
    for entry in emitted:
        name = owner_of.get(accounts.account_id(entry.posting.credit))
        if name is not None:
            minted[name] = minted.get(name, 0) + int(entry.amount)
    units: dict[str, int] = {}
    for entry in released:
        receipt, job = entry.posting.receipt, jobs.get(entry.job_id or "")
        name = owner_of.get(receipt.worker_id) if receipt is not None else None
        if name is not None and job is not None:
            work = spec_from_canonical(job.spec).work_units()
            units[name] = units.get(name, 0) + work
    return {name: minted.get(name, 0) / units[name] for name in units if units[name]}


def speeds(data: Path, agents: list[Agent]) -> dict[str, tuple[float, float]]:
    """Each owner's median milliseconds per million work units over what its workers
    completed: as the coordinator observed it (:func:`observed_speeds`, a batch's jobs
    sharing one figure, as the emission split weighs them) and as the receipts claimed
    (``run_ms``)."""
    owner_of = {agent.name: agent.owner.name for agent in agents}
    store = open_store(CoordinatorSettings(data=data))
    try:
        with store.transaction(read_only=True) as tx:
            done = [
                (owner_of[agent.name], job)
                for agent in agents
                for job in tx.jobs.get_many(agent.submitted)
                if job.state is JobState.COMPLETED
            ]
    finally:
        store.dispose()
    units = {job.id: spec_from_canonical(job.spec).work_units() for _, job in done}
    seen = observed_speeds(
        Run(job.id, job.worker_id or "", job.leased_ms, job.updated_ms, units[job.id],
            job.attempts)
        for _, job in done
    )  # fmt: skip
    observed: dict[str, list[int]] = {}
    claimed: dict[str, list[int]] = {}
    for name, job in done:
        if seen.get(job.id, 0) > 0:
            observed.setdefault(name, []).append(seen[job.id])
        run_ms = (job.timings or {}).get("run_ms")
        if isinstance(run_ms, int | float) and units[job.id] > 0:
            claimed.setdefault(name, []).append(int(run_ms * 1_000_000 / units[job.id]))
    return {
        name: (statistics.median(observed[name]), statistics.median(claimed.get(name, [0])))
        for name in observed
    }


@dataclass
class Swarm:
    """The owners and agents of one run, and the coordinator they talk to."""

    net: LocalNetwork
    options: Options
    stop: threading.Event = field(default_factory=threading.Event)
    owners: dict[str, Owner] = field(default_factory=dict)
    agents: list[Agent] = field(default_factory=list)
    roles: dict[str, str] = field(default_factory=dict)
    """Agent name -> ``adversary``/``cheat``/``honest`` (``cheat``: its claims are cheated)."""

    def owner(self, name: str, grant: int) -> Owner:
        if name not in self.owners:
            owner = Owner(name, self.net.create_key(name))
            self.net.grant(name, grant)
            owner.user_id = user_id(self.net.url, owner)
            self.owners[name] = owner
        return self.owners[name]

    def add(self, name: str, owner: Owner, stake: int, behaviour: Behaviour, role: str,
            **extra: Any) -> Agent:  # fmt: skip
        agent = Agent(self.net.url, name, owner, stake, behaviour, self.options.run_s,
                      self.stop, **extra)  # fmt: skip
        agent.join()
        self.agents.append(agent)
        self.roles[name] = role
        return agent


def adversary(swarm: Swarm, strategy: str, stake: int, watch: EpochWatch) -> list[str]:
    """Add the adversary's keys for ``strategy``; returns the names of its owners."""
    grant = 100 * stake
    collusion = Collusion()
    main = swarm.owner("eve", grant)
    if strategy in ("capture", "starve"):
        partner = swarm.owner("mallory", grant)
        swarm.add("eve-claim", main, stake, cheater(collusion), "cheat")
        seat = voter(collusion) if strategy == "capture" else squatter(collusion)
        swarm.add("mallory-seat", partner, stake, seat, "adversary", pop_wait_s=0.0)
        return ["eve", "mallory"]
    behaviours: dict[str, Callable[[], Behaviour]] = {
        "late": lambda: late(watch, swarm.options.epoch_s, margin_s=0.5),
        "timing": lambda: timing_liar,
        "rotate": lambda: rotator(PER_KEY),
    }
    role = "adversary" if strategy == "timing" else "cheat"
    batch = 4 if strategy == "late" else 1  # a holder keeps asking while it holds
    for i in range(KEYS):
        swarm.add(f"eve-{i}", main, stake, behaviours[strategy](), role, max_jobs=batch)
    return ["eve"]


def run(strategy: str, share: float, options: Options) -> Outcome:
    """One strategy at one stake share, from a fresh coordinator (see the module docstring)."""
    started = time.monotonic()
    outcome = Outcome(strategy, share)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        swarm, evil, epochs = _run(data, outcome, options)
        claims = [j for a in swarm.agents if swarm.roles[a.name] == "cheat" for j in a.submitted]
        _read_back(data, outcome, claims, _roles(swarm, evil))
        if strategy == "timing":
            per_unit = emission_per_unit(data, swarm.owners)
            twin = per_unit.get("twin", 0.0)
            liar = sum(per_unit.get(name, 0.0) for name in evil)
            outcome.emission_ratio = liar / twin if twin else None
            seen = speeds(data, swarm.agents)
            if "twin" in seen and evil[0] in seen:
                (twin_ms, twin_claim), (liar_ms, liar_claim) = seen["twin"], seen[evil[0]]
                outcome.speed_ratio = twin_ms / liar_ms if liar_ms else None
                outcome.claimed_ratio = twin_claim / liar_claim if liar_claim else None
    if outcome.invalidated_epoch is not None:
        outcome.invalidated_s = epochs.get(outcome.invalidated_epoch + 1)
    outcome.seconds = time.monotonic() - started
    return outcome


def _run(data: Path, outcome: Outcome, options: Options,
         ) -> tuple[Swarm, list[str], dict[int, float]]:  # fmt: skip
    """Run the swarm; fills the credit figures; returns it, the adversary's owners and
    when each epoch opened (seconds since the work began)."""
    with LocalNetwork(data, lease_min_s=options.lease_s) as net:
        env = {"SWARMGEN_EPOCH_LENGTH_S": str(options.epoch_s), "SWARMGEN_EPOCH_CHECK_S": "0.2"}
        net.start_coordinator(env=env)
        swarm = Swarm(net, options)
        requester = net.create_key("requester")
        net.grant("requester", 10**15)
        watch = EpochWatch()
        watcher = threading.Thread(
            target=watch_epochs, args=(net.url, requester, watch, swarm.stop)
        )
        watcher.start()
        # the twin has the adversary's hardware and its stake (stake earns seats and
        # their fees); the other two honest owners hold the rest of the stake
        share = outcome.share
        adversary_each, honest_each = stakes(share / (1 - share), KEYS, 2 * KEYS)
        for name in HONEST:
            each = adversary_each if name == "twin" else honest_each
            owner = swarm.owner(name, 100 * each)
            for i in range(KEYS):
                swarm.add(f"{name}-{i}", owner, each, honest, "honest")
        evil = adversary(swarm, outcome.strategy, adversary_each, watch)
        baseline = holdings(data, list(swarm.owners.values()))
        for agent in swarm.agents:
            agent.start()
        load_stop = threading.Event()
        load = threading.Thread(
            target=keep_queue_full, args=(net.url, requester, load_stop, options.rate, options.seed)
        )
        load.start()
        began = time.monotonic()
        time.sleep(options.epochs * options.epoch_s)
        load_stop.set()
        load.join()
        time.sleep(options.settle * options.epoch_s)
        swarm.stop.set()
        for agent in swarm.agents:
            agent.close()
        watcher.join()
    after = holdings(data, list(swarm.owners.values()))
    final = {name: after[name] - baseline[name] for name in swarm.owners}
    outcome.credits = final
    outcome.gain = sum(final[o] for o in evil) - final["twin"]
    # the spread of two honest owners with equal hardware and equal stake
    outcome.noise = abs(final["twin2"] - final["others"])
    return swarm, evil, {e: t - began for e, t in watch.started.items()}


def _roles(swarm: Swarm, evil: list[str]) -> dict[str, str]:
    """Every worker key ever used, and every owner's user id -> honest or adversary."""
    roles: dict[str, str] = {}
    for owner in swarm.owners.values():
        role = "adversary" if owner.name in evil else "honest"
        roles.update({key: role for key in owner.workers})
        if owner.user_id:
            roles[owner.user_id] = role
    return roles


def _read_back(data: Path, outcome: Outcome, claims: list[str], roles: dict[str, str]) -> None:
    """Checks, payments and verdicts from the coordinator's database (it has stopped)."""
    store = open_store(CoordinatorSettings(data=data))
    try:
        with store.transaction() as tx:
            originals = [j for j in tx.jobs.get_many(claims) if j.validates is None]
            checks = [tx.validations.get_check(j.id) for j in originals]
            verdicts = tx.ledger.kind_entries(EntryKind.VERDICT)
    finally:
        store.dispose()
    outcome.claims = len(originals)
    outcome.paid = sum(1 for j in originals if j.payment == "paid")
    statuses = [found.status.value for found in checks if found is not None]
    outcome.checked = len(statuses)
    outcome.upheld = statuses.count("upheld")
    outcome.rejected = statuses.count("rejected")
    outcome.abandoned = statuses.count("abandoned")
    for entry in verdicts:
        if not int(entry.posting.memo.get("invalid", 0)):
            continue
        if roles.get(accounts.account_id(entry.posting.debit)) == "honest":
            outcome.honest_invalid += 1
        elif outcome.invalidated_epoch is None or entry.epoch < outcome.invalidated_epoch:
            outcome.invalidated_epoch = entry.epoch


@dataclass
class Churn:
    """Honest workers only, ``killed`` of them crashing (holding what they leased)."""

    workers: int = 0
    killed: int = 0
    restarted: int = 0
    honest_invalid: int = 0
    seconds: float = 0.0


def churn(options: Options, workers: int = 10, killed_share: float = 0.3) -> Churn:
    """Kill ``killed_share`` of the workers at random moments of the run, restarting
    every other one (same key) an epoch later; count honest workers declared invalid."""
    started = time.monotonic()
    rng = random.Random(options.seed)
    result = Churn(workers=workers)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        with LocalNetwork(data, lease_min_s=options.lease_s) as net:
            env = {"SWARMGEN_EPOCH_LENGTH_S": str(options.epoch_s),
                   "SWARMGEN_EPOCH_CHECK_S": "0.2"}  # fmt: skip
            net.start_coordinator(env=env)
            swarm = Swarm(net, options)
            requester = net.create_key("requester")
            net.grant("requester", 10**15)
            for i in range(workers):
                owner = swarm.owner(f"owner-{i // 2}", 100 * MIN_STAKE)
                swarm.add(f"w-{i}", owner, MIN_STAKE, honest, "honest", max_jobs=2)
            for agent in swarm.agents:
                agent.start()
            load_stop = threading.Event()
            load = threading.Thread(target=keep_queue_full,
                                    args=(net.url, requester, load_stop, options.rate,
                                          options.seed))  # fmt: skip
            load.start()
            span = options.epochs * options.epoch_s
            victims = rng.sample(swarm.agents, round(killed_share * workers))
            plan = sorted((rng.uniform(0.1, 0.8) * span, v) for v in victims)
            began = time.monotonic()
            for index, (at, victim) in enumerate(plan):
                time.sleep(max(0.0, began + at - time.monotonic()))
                victim.kill()
                result.killed += 1
                if index % 2 == 0:
                    threading.Timer(options.epoch_s, _restart, (swarm, victim)).start()
                    result.restarted += 1
            time.sleep(max(0.0, began + span - time.monotonic()))
            load_stop.set()
            load.join()
            time.sleep(options.settle * options.epoch_s)
            swarm.stop.set()
            for agent in swarm.agents:
                agent.close()
        _read_back(data, scratch := Outcome("churn", 0.0), [], _roles(swarm, []))
    result.honest_invalid = scratch.honest_invalid
    result.seconds = time.monotonic() - started
    return result


def _restart(swarm: Swarm, victim: Agent) -> None:
    """The crashed worker comes back with the same key (its stake is still locked)."""
    if swarm.stop.is_set():
        return
    agent = Agent(victim.url, victim.name, victim.owner, 0, victim.behaviour, victim.run_s,
                  swarm.stop, keys=victim.keys, max_jobs=victim.max_jobs)  # fmt: skip
    agent.join()
    swarm.agents.append(agent)
    agent.start()

"""The public network view: offerings, workers and throughput, as anyone may read them.

Per offering, jobs waiting, running and done count validation and ordinary jobs alike,
as the queue itself treats them, and these figures are never live: they are read
through a :class:`~swarmgen.coordinator.windows.PublicWindow`, as of the start of the
current window (decision record 0016), since a seat queued right after a sampled
completion would otherwise show in the queue the moment its worker pops. What follows
a worker's own jobs (jobs done, checks passed and failed, verdicts, earnings) is read
up to the last *published* epoch
(:class:`~swarmgen.coordinator.auditing.Publication`), never from the open one: a
worker watching its own page after each job learns nothing about which were checks.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from swarmgen.clock import Clock
from swarmgen.coordinator.auditing import Publication
from swarmgen.coordinator.credits import CreditService
from swarmgen.coordinator.tasks import PeriodicTask
from swarmgen.coordinator.windows import PUBLIC_WINDOW_S, PublicWindow
from swarmgen.core import accounts
from swarmgen.core.jobs import ImageSpec, JobState, Spec, TextSpec
from swarmgen.core.ledger import EntryKind
from swarmgen.core.offerings import Kind, Offering
from swarmgen.errors import NotFound
from swarmgen.registry import Registry
from swarmgen.store.port import Store, Transaction
from swarmgen.store.records import CheckStatus, WorkerRecord

ONLINE_S = 60
"""A worker is online while its last heartbeat or registration is this recent (workers
beat every few seconds while they serve)."""
RECENT_MS = 3_600_000
"""The window of "jobs done recently" and the median time: one hour."""
WINDOW_TICK_S = 1.0
"""How often each process looks whether a public window began (and takes its figures)."""
TYPICAL_PROMPT_CHARS = 200
"""A typical text job's prompt length, for the price shown per offering."""
VERIFICATION_FIGURES = (
    "detection",
    "detection_by_cheat",
    "false_positive",
    "false_positive_bound",
    "honest_samples",
    "cheat_samples",
)
"""The measured figures of a calibration shown per offering (thresholds themselves are
left out: they are the coordinator's to apply, not a target to aim just inside)."""
EARNED = (EntryKind.RELEASE, EntryKind.EMISSION, EntryKind.VALIDATOR_REWARD)


@dataclass(frozen=True)
class OfferingView:
    """One offering as the network serves it now."""

    model: str
    name: str
    precision: str
    kind: str
    typical_job: dict[str, Any]
    """The job the price is quoted for (its canonical spec, seed left out)."""
    typical_price: int
    workers_online: int
    queued: int
    running: int
    done_recently: int
    median_s: float | None
    verification: dict[str, Any]
    """The registry's measured figures (``calibrated`` false when there are none)."""
    tier: str
    """How the tier is computed (its pins, in one line); the reference for fp32."""
    footprint: int | None
    """Measured peak memory (bytes) of a worker serving it; ``None``: not measured."""
    quality: dict[str, float]
    """Measured quality against fp32 (``bench/quality.py``); empty: not measured."""


@dataclass(frozen=True)
class WorkerSummary:
    id: str
    name: str
    models: tuple[str, ...]
    online: bool
    last_seen_ms: int
    reputation: float
    jobs_done: int
    """Jobs completed up to the end of the last published epoch."""


@dataclass(frozen=True)
class EpochEarnings:
    """What a worker's account received and gave up in one published epoch."""

    epoch: int
    earned: int
    """Job fees, emission and validator rewards credited (pending) in the epoch."""
    forfeited: int
    """Pending earnings returned to requesters after an invalid verdict."""
    paid: int
    """Earnings paid out to the owner in the epoch."""


@dataclass(frozen=True)
class WorkerPage:
    worker: WorkerSummary
    owned: bool
    checks_passed: int
    checks_failed: int
    checks_abandoned: int
    verdicts: tuple[tuple[int, bool], ...]
    """``(epoch, invalid)`` per published epoch the worker was judged in."""
    earnings: tuple[EpochEarnings, ...]
    stake_locked: int
    stake_unbonding: int
    published_epoch: int
    """The last published epoch: every count above stops there."""


@dataclass(frozen=True)
class NetworkStats:
    epoch: int
    epoch_opened_ms: int | None
    epoch_length_s: int
    last_sealed: int
    published_epoch: int
    workers_online: int
    queued: int
    running: int
    done_recently: int
    done_last_minute: int
    jobs_per_minute: float
    """Completions per minute over the last hour."""


@dataclass(frozen=True)
class Load:
    """The queue and throughput figures of one public window, taken at its first reading."""

    as_of_ms: int
    """The window's start: throughput counts stop there."""
    states: dict[tuple[str, str], int]
    """Jobs per ``(offering, state)``."""
    recent: dict[str, list[int]]
    """Run times (ms) per offering of the jobs done in the hour before ``as_of_ms``."""
    last_minute: int
    online: tuple[tuple[str, ...], ...]
    """The models of each worker online."""


@dataclass(frozen=True)
class Throughput:
    """Jobs completed per bucket, oldest bucket first, the last one ending now."""

    since_ms: int
    bucket_s: int
    counts: tuple[int, ...]


def typical_spec(kind: Kind, max_pixels: int) -> Spec:
    """The job an offering's price is shown for: the wire defaults (an image at the
    default size, shrunk to fit the model), or a short prompt and 64 new tokens."""
    if kind is Kind.IMAGE:
        side = 64
        while side > 8 and side * side > max_pixels:
            side //= 2
        return ImageSpec(prompt="x" * 40, width=side, height=side, seed=0)
    return TextSpec(prompt="x" * TYPICAL_PROMPT_CHARS, max_tokens=64, seed=0)


def tier_figures(registry: Registry, credits: CreditService, offering: Offering) -> dict[str, Any]:
    """What a requester compares tiers by: the typical job and its price, how the tier is
    computed, its measured footprint and its quality against fp32. Every listing of
    models (native and OpenAI faces) shows these."""
    model, entry = registry.entry(offering), registry.offering(offering)
    spec = typical_spec(model.kind, model.max_pixels)
    pins = entry.pins
    return {
        "typical_job": {k: v for k, v in spec.canonical().items() if k != "seed"},
        "typical_price": credits.quote(offering, spec).price,
        "tier": pins.describe() if pins is not None else "reference (model pins)",
        "footprint": entry.footprint,
        "quality": dict(entry.quality),
    }


def verification_figures(thresholds: Mapping[str, Any]) -> dict[str, Any]:
    figures = {k: thresholds[k] for k in VERIFICATION_FIGURES if k in thresholds}
    return {"calibrated": bool(thresholds), **figures}


def median_s(durations_ms: list[int]) -> float | None:
    return round(statistics.median(durations_ms) / 1000, 3) if durations_ms else None


@dataclass
class NetworkService:
    store: Store
    registry: Registry
    credits: CreditService
    clock: Clock
    epoch_length_s: int
    publication: Publication
    window_s: int = PUBLIC_WINDOW_S
    """Length of the public window the queue and throughput figures are read as of."""
    _window: PublicWindow[Load] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._window = PublicWindow(self.window_s)

    def load(self) -> Load:
        """The queue and throughput figures every public face shows: those of the
        current window (the one rule, :class:`~swarmgen.coordinator.windows.PublicWindow`)."""
        return self._window.read(self.clock.now_ms(), self._take)

    def window_task(self) -> PeriodicTask:
        """Takes each window's figures at its start, in every process: the instant
        they show is the clock's, not that of whoever reads first."""
        return PeriodicTask("public-window", WINDOW_TICK_S, 10 * WINDOW_TICK_S, self.load)

    def _take(self, as_of: int) -> Load:
        with self.store.transaction() as tx:
            states = tx.network.jobs_by_state()
            recent = tx.network.completed_since(as_of - RECENT_MS, until_ms=as_of)
            last_minute = tx.network.completed_since(as_of - 60_000, until_ms=as_of)
            workers = self._all_workers(tx)
        return Load(
            as_of_ms=as_of,
            states=states,
            recent=recent,
            last_minute=sum(len(d) for d in last_minute.values()),
            online=tuple(
                tuple(w.capabilities.get("models", ())) for w in workers if self._online(w, as_of)
            ),
        )

    def _online(self, worker: WorkerRecord, now: int) -> bool:
        return now - worker.last_seen_ms <= ONLINE_S * 1000

    def _all_workers(self, tx: Transaction) -> list[WorkerRecord]:
        found: list[WorkerRecord] = []
        after: str | None = None
        while page := tx.network.workers(500, after):
            found.extend(page)
            after = page[-1].id
        return found

    def models(self) -> list[OfferingView]:
        """Every offering in the registry with its load and recent speed (as of the
        public window's start)."""
        load = self.load()
        views = []
        for offering in self.registry.all_offerings():
            model = self.registry.entry(offering)
            key = str(offering)
            views.append(
                OfferingView(
                    model=key,
                    name=offering.name,
                    precision=str(offering.precision),
                    kind=model.kind.value,
                    **tier_figures(self.registry, self.credits, offering),
                    workers_online=sum(key in models for models in load.online),
                    queued=load.states.get((key, JobState.QUEUED.value), 0),
                    running=load.states.get((key, JobState.LEASED.value), 0),
                    done_recently=len(load.recent.get(key, [])),
                    median_s=median_s(load.recent.get(key, [])),
                    verification=verification_figures(self.registry.offering(offering).thresholds),
                )
            )
        return views

    def model(self, name: str) -> OfferingView:
        """One offering's view (404 when the registry has no such offering)."""
        try:
            wanted = str(Offering.parse(name))
        except ValueError:
            wanted = name
        for view in self.models():
            if view.model == wanted:
                return view
        raise NotFound(f"no model offering {name}", model=name)

    def _cutoff(self, tx: Transaction, published: int) -> int:
        """The end of the last published epoch (ms); before any, nothing is counted."""
        if published < 0:
            return -1
        closed = tx.network.epoch_closed_ms(published)
        return -1 if closed is None else closed

    def _summaries(
        self, tx: Transaction, workers: list[WorkerRecord], published: int, now: int
    ) -> list[WorkerSummary]:
        ids = [w.id for w in workers]
        done = tx.network.jobs_done(ids, self._cutoff(tx, published))
        reputations = tx.validations.reputations(ids)
        return [
            WorkerSummary(
                id=w.id,
                name=w.name,
                models=tuple(w.capabilities.get("models", ())),
                online=self._online(w, now),
                last_seen_ms=w.last_seen_ms,
                reputation=round(reputations.get(w.id, 0.0), 6),
                jobs_done=done.get(w.id, 0),
            )
            for w in workers
        ]

    def workers(self, limit: int, after: str | None = None) -> list[WorkerSummary]:
        """Registered workers by id, ``limit`` of them after ``after`` (a cursor)."""
        published = self.publication.published()
        now = self.clock.now_ms()
        with self.store.transaction() as tx:
            return self._summaries(tx, tx.network.workers(limit, after), published, now)

    def worker(self, worker_id: str) -> WorkerPage:
        """One worker's public page (404 for a key that never registered)."""
        published = self.publication.published()
        now = self.clock.now_ms()
        with self.store.transaction() as tx:
            record = tx.workers.get(worker_id)
            if record is None:
                raise NotFound(f"no worker {worker_id}", worker_id=worker_id)
            (summary,) = self._summaries(tx, [record], published, now)
            checks = tx.network.check_counts(worker_id, published)
            verdicts = tx.network.verdicts_of(worker_id, published)
            flows = tx.network.flows(accounts.worker(worker_id), published)
            locked = tx.ledger.balance(accounts.stake(worker_id))
            unbonding = tx.ledger.balance(accounts.unbonding(worker_id))
        return WorkerPage(
            worker=summary,
            owned=record.owner_id is not None,
            checks_passed=checks.get(CheckStatus.UPHELD.value, 0),
            checks_failed=checks.get(CheckStatus.REJECTED.value, 0),
            checks_abandoned=checks.get(CheckStatus.ABANDONED.value, 0),
            verdicts=tuple(verdicts),
            earnings=earnings(flows),
            stake_locked=locked,
            stake_unbonding=unbonding,
            published_epoch=published,
        )

    def stats(self) -> NetworkStats:
        """The network at a glance: the epoch (live), the queue and the recent
        throughput (as of the public window's start)."""
        published = self.publication.published()
        load = self.load()
        with self.store.transaction() as tx:
            opened = tx.ledger.open_epoch()
            seals = tx.ledger.seals()
        done = sum(len(d) for d in load.recent.values())
        states = load.states
        return NetworkStats(
            epoch=opened.epoch if opened else 0,
            epoch_opened_ms=opened.opened_ms if opened else None,
            epoch_length_s=self.epoch_length_s,
            last_sealed=max((s.epoch for s in seals), default=-1),
            published_epoch=published,
            workers_online=len(load.online),
            queued=sum(n for (_, state), n in states.items() if state == JobState.QUEUED.value),
            running=sum(n for (_, state), n in states.items() if state == JobState.LEASED.value),
            done_recently=done,
            done_last_minute=load.last_minute,
            jobs_per_minute=round(done / (RECENT_MS / 60_000), 3),
        )

    def throughput(self, buckets: int = 60, bucket_s: int = 60) -> Throughput:
        """Completions per ``bucket_s`` over the last ``buckets`` of them (an hour by
        default), the last bucket ending at the public window's start (completions from
        then on fall past it). Like
        ``done_recently``, ordinary and validation jobs count alike."""
        end = self.load().as_of_ms
        since = end - buckets * bucket_s * 1000  # the last bucket ends just before ``end``
        with self.store.transaction() as tx:
            found = tx.network.completions_by_bucket(since, bucket_s * 1000)
        return Throughput(since, bucket_s, tuple(found.get(i, 0) for i in range(buckets)))


def earnings(flows: list[tuple[int, str, int]]) -> tuple[EpochEarnings, ...]:
    """Per-epoch earnings from a worker account's net flows by entry kind."""
    by_epoch: dict[int, dict[str, int]] = {}
    for epoch, kind, amount in flows:
        by_epoch.setdefault(epoch, {})[kind] = amount
    return tuple(
        EpochEarnings(
            epoch=epoch,
            earned=sum(kinds.get(k.value, 0) for k in EARNED),
            forfeited=-kinds.get(EntryKind.FORFEIT.value, 0),
            paid=-kinds.get(EntryKind.PAYOUT.value, 0),
        )
        for epoch, kinds in sorted(by_epoch.items())
    )

"""Prometheus metrics and structured job logs: what an operator watches.

Two kinds of figures. *Events* (jobs submitted, leased and completed, results rejected,
pop latency) are counted where a face hands work to a service, through
:class:`Observer`, which also writes one structured log line per event of a request,
with its job ids and its worker's (a batch of 32 jobs leased is one line, not 32).
*State* (jobs by offering and state, queue depth, checks by status, verdicts, ledger
entries, workers online) is read from the store when Prometheus scrapes, so every
replica reports the same totals and nothing drifts.

Each app has its own :class:`~prometheus_client.CollectorRegistry` (never the
process-global one), so tests can build several apps in one process. The state
includes open-epoch checks, which a worker could time against its own submissions:
``/metrics`` therefore answers an operator's (``admin``) API key only.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from swarmgen.clock import Clock
from swarmgen.coordinator.network import ONLINE_S
from swarmgen.core.jobs import JobState
from swarmgen.store.port import Store
from swarmgen.store.records import JobRecord

log = logging.getLogger("swarmgen.jobs")

POP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class StoreCollector(Collector):
    """The store's state, read at each scrape."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def collect(self) -> Iterator[Metric]:
        now = self.clock.now_ms()
        with self.store.transaction() as tx:
            states = tx.network.jobs_by_state()
            checks = tx.network.check_statuses()
            verdicts = tx.network.verdict_counts()
            entries = tx.ledger.count() + tx.ledger.journaled()  # postings made
            epoch = tx.ledger.open_epoch()
            workers = []
            after: str | None = None
            while page := tx.network.workers(500, after):
                workers.extend(page)
                after = page[-1].id
        jobs = GaugeMetricFamily(
            "swarmgen_jobs", "Jobs by offering and state.", labels=["offering", "state"]
        )
        queue = GaugeMetricFamily(
            "swarmgen_queue_depth", "Jobs waiting for a worker.", labels=["offering"]
        )
        for (offering, state), count in sorted(states.items()):
            jobs.add_metric([offering, state], count)
            if state == JobState.QUEUED.value:
                queue.add_metric([offering], count)
        yield jobs
        yield queue
        by_status = GaugeMetricFamily(
            "swarmgen_checks", "Re-execution checks by status.", labels=["status"]
        )
        for status, count in sorted(checks.items()):
            by_status.add_metric([status], count)
        yield by_status
        judged = GaugeMetricFamily(
            "swarmgen_verdicts", "Epoch verdicts on workers.", labels=["verdict"]
        )
        for invalid, count in sorted(verdicts.items()):
            judged.add_metric(["invalid" if invalid else "valid"], count)
        yield judged
        yield CounterMetricFamily(
            "swarmgen_ledger_entries", "Entries appended to the ledger.", value=entries
        )
        yield GaugeMetricFamily(
            "swarmgen_epoch", "The open epoch.", value=epoch.epoch if epoch else 0
        )
        online = sum(now - w.last_seen_ms <= ONLINE_S * 1000 for w in workers)
        yield GaugeMetricFamily("swarmgen_workers_online", "Workers seen recently.", value=online)


@dataclass
class Observer:
    """Counts and logs what the faces hand to the services (one per app)."""

    store: Store
    clock: Clock
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.submitted = Counter(
            "swarmgen_jobs_submitted", "Jobs queued by requesters.", ["offering"], registry=r
        )
        self.leased = Counter(
            "swarmgen_jobs_leased", "Jobs handed to workers (dispatch).", ["offering"], registry=r
        )
        self.completed = Counter(
            "swarmgen_jobs_completed", "Results accepted from workers.", registry=r
        )
        self.rejected = Counter(
            "swarmgen_results_rejected", "Results refused, by error code.", ["code"], registry=r
        )
        self.pop_seconds = Histogram(
            "swarmgen_pop_seconds",
            "Time a worker's pop took, long-poll included, by whether it leased a job.",
            ["outcome"],
            buckets=POP_BUCKETS,
            registry=r,
        )
        r.register(StoreCollector(self.store, self.clock))

    def on_submit(self, user_id: str, jobs: Sequence[tuple[str, str]], face: str) -> None:
        """``jobs`` queued through ``face``, each ``(offering, job_id)``."""
        for offering, job_ids in _grouped(jobs).items():
            self.submitted.labels(offering).inc(len(job_ids))
            event("submitted", job_ids, user_id=user_id, offering=offering, face=face)

    def on_pop(self, worker_id: str, jobs: Sequence[JobRecord], started: float) -> None:
        outcome = "leased" if jobs else "empty"
        self.pop_seconds.labels(outcome).observe(time.perf_counter() - started)
        for offering, job_ids in _grouped((job.offering, job.id) for job in jobs).items():
            self.leased.labels(offering).inc(len(job_ids))
            event("leased", job_ids, worker_id=worker_id, offering=offering)

    def on_results(
        self, worker_id: str, accepted: Sequence[str], rejected: Sequence[tuple[str, str]]
    ) -> None:
        self.completed.inc(len(accepted))
        if accepted:
            event("completed", accepted, worker_id=worker_id)
        for code, job_ids in _grouped((code, job_id) for job_id, code in rejected).items():
            self.rejected.labels(code).inc(len(job_ids))
            event("rejected", job_ids, worker_id=worker_id, code=code)


def _grouped(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """``(key, job_id)`` pairs as each key's job ids, keys in first-seen order."""
    groups: dict[str, list[str]] = {}
    for key, job_id in pairs:
        groups.setdefault(key, []).append(job_id)
    return groups


def event(name: str, job_ids: Sequence[str], **fields: object) -> None:
    """One log line for the jobs of one event of a request, ``job <name> key=value ...
    job_ids=a,b`` (logfmt), with the same fields (``job_ids`` a list) as ``extra`` for a
    JSON formatter. A line per job cost about a twentieth of the coordinator's CPU at
    full dispatch; a line per request costs as much for one job as for a batch."""
    if not log.isEnabledFor(logging.INFO):
        return  # nothing built for a line nobody writes
    pairs = " ".join(f"{key}={value}" for key, value in fields.items())
    ids = ",".join(job_ids)
    log.info(
        "job %s %s job_ids=%s",
        name,
        pairs,
        ids,
        extra={"event": name, "job_ids": list(job_ids), **fields},
    )

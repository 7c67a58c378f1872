"""Prometheus metrics and structured job logs: what an operator watches.

Two kinds of figures. *Events* (jobs submitted, leased and completed, results rejected,
pop latency) are counted where a face hands work to a service, through
:class:`Observer`, which also writes one structured log line per event with the job and
worker ids. *State* (jobs by offering and state, queue depth, checks by status,
verdicts, ledger entries, workers online) is read from the store when Prometheus
scrapes, so every replica reports the same totals and nothing drifts.

Each app has its own :class:`~prometheus_client.CollectorRegistry` (never the
process-global one), so tests can build several apps in one process. The state
includes open-epoch checks, which a worker could time against its own submissions:
``/metrics`` therefore answers an operator's (``admin``) API key only.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
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

    def on_submit(self, user_id: str, offering: str, job_ids: Sequence[str], face: str) -> None:
        self.submitted.labels(offering).inc(len(job_ids))
        for job_id in job_ids:
            event("submitted", job_id=job_id, user_id=user_id, offering=offering, face=face)

    def on_pop(self, worker_id: str, jobs: Sequence[JobRecord], started: float) -> None:
        outcome = "leased" if jobs else "empty"
        self.pop_seconds.labels(outcome).observe(time.perf_counter() - started)
        for job in jobs:
            self.leased.labels(job.offering).inc()
            event("leased", job_id=job.id, worker_id=worker_id, offering=job.offering,
                  lease_expires_ms=job.lease_expires_ms)  # fmt: skip

    def on_results(
        self, worker_id: str, accepted: Sequence[str], rejected: Sequence[tuple[str, str]]
    ) -> None:
        self.completed.inc(len(accepted))
        for job_id in accepted:
            event("completed", job_id=job_id, worker_id=worker_id)
        for job_id, code in rejected:
            self.rejected.labels(code).inc()
            event("rejected", job_id=job_id, worker_id=worker_id, code=code)


def event(name: str, **fields: object) -> None:
    """One log line per job event, ``job <name> key=value ...`` (logfmt), with the same
    fields as ``extra`` for a JSON formatter."""
    pairs = " ".join(f"{key}={value}" for key, value in fields.items())
    log.info("job %s %s", name, pairs, extra={"event": name, **fields})

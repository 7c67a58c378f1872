"""The network view's tallies: the same answers from SQLite, PostgreSQL and memory."""

from __future__ import annotations

from tests.integration.store.rows import job

from swarmgen.core import credits
from swarmgen.core.jobs import JobState
from swarmgen.store import Store
from swarmgen.store.records import CheckStatus, WorkerRecord


def _worker(worker_id: str) -> WorkerRecord:
    return WorkerRecord(worker_id, None, worker_id, {"models": ["echo-image@fp32"]}, 0, 0)


def test_tallies_count_jobs_workers_checks_and_flows(store: Store) -> None:
    done = {"state": JobState.COMPLETED, "worker_id": "w1"}
    with store.transaction() as tx:
        tx.jobs.insert([
            job("a"),
            job("b", offering="echo-text@fp32", state=JobState.LEASED),
            job("c", created_ms=100, updated_ms=400, **done),
            job("d", created_ms=100, updated_ms=1100, validates="c", **done),
            job("e", created_ms=0, updated_ms=50, **done),
        ])  # fmt: skip
        for worker_id in ("w2", "w1", "w3"):
            tx.workers.register(_worker(worker_id))
        tx.validations.open_check("c", "w1", "echo-image@fp32", epoch=0, now=0)
        tx.validations.settle("c", CheckStatus.UPHELD, epoch=1, reason="agree", now=1)
        tx.verdicts.record(0, "w1", invalid=False, evidence={}, now=1)
        tx.verdicts.record(2, "w1", invalid=True, evidence={}, now=1)
    with store.transaction(5, ledger=True) as tx:
        tx.book.post([credits.grant("u1", 7), credits.grant("u1", 3)])
    with store.transaction() as tx:
        net = tx.network
        assert net.jobs_by_state() == {
            ("echo-image@fp32", "queued"): 1,
            ("echo-text@fp32", "leased"): 1,
            ("echo-image@fp32", "completed"): 3,
        }
        # a validation job ("d") counts like any other
        assert net.completed_since(300) == {"echo-image@fp32": [300, 1000]}
        # completions at 50, 400 and 1100 ms, in 500 ms buckets from 0 and from 100
        assert net.completions_by_bucket(0, 500) == {0: 2, 2: 1}
        assert net.completions_by_bucket(100, 500) == {0: 1, 2: 1}
        assert net.completions_by_bucket(1101, 500) == {}
        assert [w.id for w in net.workers(2)] == ["w1", "w2"]
        assert [w.id for w in net.workers(5, after="w2")] == ["w3"]
        assert net.jobs_done(["w1", "w2"], 1100) == {"w1": 2}
        assert net.jobs_done([], 1100) == {}
        assert net.check_counts("w1", 0) == {}
        assert net.check_counts("w1", 1) == {"upheld": 1}
        assert net.check_statuses() == {"upheld": 1}
        assert net.verdicts_of("w1", 1) == [(0, False)]
        assert net.verdict_counts() == {False: 1, True: 1}
        assert net.flows("user:u1", 0) == [(0, "grant", 10)]
        assert net.flows("mint", 0) == [(0, "grant", -10)]
        assert net.flows("user:u1", -1) == []
        assert net.epoch_closed_ms(0) is None

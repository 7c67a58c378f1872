"""Dispatch walks indexes, never the queue: every query a lease, a queue position and
a submit's active-job count run is an index search on SQLite and PostgreSQL, and the
ordinary jobs come out of ``ix_jobs_queue`` in its order (no sort of the queue)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, text
from tests.integration.store.rows import job

from swarmgen.core.jobs import JobState
from swarmgen.store import SqlStore, open_store
from swarmgen.store.records import UserRecord

SERVED = ["echo-image@fp32", "echo-text@fp32"]


@pytest.fixture
def store(database_url: str) -> Iterator[SqlStore]:
    """A queue of 1,000 jobs over two offerings, 50 drawn seats and 8,000 finished jobs
    (the history a real table drags along), with planner statistics (SQLite's too, which
    the coordinator never gathers but an operator may)."""
    opened = open_store(database_url)
    rows = [
        job(f"j{n:05d}", offering=SERVED[n % 2], created_ms=n, priority=n % 3, aging_per_s=100)
        for n in range(1_000)
    ]
    rows += [
        job(f"s{n}", validates=f"c{n}", exclude_worker="w9", assigned_worker=f"w{n % 50}")
        for n in range(50)
    ]
    rows += [job(f"d{n:05d}", state=JobState.COMPLETED, created_ms=n) for n in range(8_000)]
    rows += [job(f"u{n}", user_id="alice", created_ms=n) for n in range(3)]
    with opened.transaction() as tx:
        tx.users.create(UserRecord("alice", "alice", "user", 0))
        tx.jobs.insert(rows)
    sqlite = opened.engine.dialect.name == "sqlite"
    # statistics, and on PostgreSQL the visibility map autovacuum keeps (index-only counts)
    with opened.engine.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
        conn.execute(text("ANALYZE" if sqlite else "VACUUM ANALYZE jobs"))
    yield opened
    opened.dispose()


def _selects(store: SqlStore) -> list[tuple[str, Any]]:
    """The SELECTs one pop (sharing with two other waiters), one queue position and one
    active-job count send, with their parameters."""
    seen: list[tuple[str, Any]] = []

    def grab(*args: Any) -> None:
        statement, parameters = args[2], args[3]
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", grab)
    try:
        with store.transaction() as tx:
            leased = tx.dispatch.lease("w0", SERVED, 4096, 4, 1, sharing=3)
            assert len(leased) == 4 and "s0" in {j.id for j in leased}  # its seat too
            assert tx.dispatch.queue_position(tx.jobs.get("j00040")) > 0
            assert tx.jobs.count_active("alice") == 3
    finally:
        event.remove(store.engine, "before_cursor_execute", grab)
    return seen


def _plan(store: SqlStore, statement: str, parameters: Any) -> list[str]:
    sqlite = store.engine.dialect.name == "sqlite"
    with store.engine.connect() as conn:
        if sqlite:
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
            return [row[3] for row in rows]
        rows = conn.exec_driver_sql(f"EXPLAIN {statement}", parameters)
        return [row[0] for row in rows]


def test_every_dispatch_query_is_an_index_search(store: SqlStore) -> None:
    plans = [(statement, _plan(store, statement, p)) for statement, p in _selects(store)]
    queue_scans = 0
    for statement, plan in plans:
        joined = "\n".join(plan)
        assert "Seq Scan on jobs" not in joined, (statement, plan)
        assert not any(line.startswith("SCAN jobs") for line in plan), (statement, plan)
        sorts = "TEMP B-TREE FOR ORDER BY" in joined or "Sort Key" in joined
        if "ix_jobs_seats" not in joined:  # a worker's own seats are few: sorting is fine
            assert not sorts, (statement, plan)
        if "ix_jobs_queue" in joined:
            queue_scans += 1
    # the share count, one range per offering, and the queue position
    assert queue_scans >= 4, plans
    assert any("ix_jobs_user_state" in "\n".join(plan) for _, plan in plans)

"""Transactions that lock several jobs lock them in id order on PostgreSQL, whatever
order the rows lie in or a plan walks them: the reaper, a hand-back and a heartbeat
against a completion (which locks in id order) queue one behind the other instead of
deadlocking. Each test holds the later job's row from outside and checks that the
earlier one is locked already while the transaction waits. A deadlock PostgreSQL does
find breaks one transaction off, and its caller gets a 503 (``DatabaseBusy``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError
from tests.integration.store.rows import job

from swarmgen.core.jobs import JobState
from swarmgen.errors import DatabaseBusy
from swarmgen.store import Store, open_store
from swarmgen.store.engine import make_engine
from swarmgen.store.records import WorkerRecord
from swarmgen.store.sql import SqlTransaction

pytestmark = pytest.mark.postgres

WORKER = "w"


@pytest.fixture
def store(postgres_url: str) -> Iterator[Store]:
    opened = open_store(postgres_url)
    with opened.transaction() as tx:
        tx.workers.register(WorkerRecord(WORKER, None, WORKER, {}, 0, 0))
        # "b" lies first in the table and in the lease index (it expired first)
        for job_id, expiry in (("b", 10), ("a", 20)):
            tx.jobs.insert(
                [
                    job(
                        job_id,
                        state=JobState.LEASED,
                        worker_id=WORKER,
                        lease_expires_ms=expiry,
                        leased_ms=0,
                        attempts=1,
                    )
                ]
            )
    yield opened
    opened.dispose()


@pytest.fixture
def outside(postgres_url: str) -> Iterator[Engine]:
    engine = make_engine(postgres_url)
    yield engine
    engine.dispose()


def _locked(engine: Engine, job_id: str) -> bool:
    with engine.connect() as conn:
        try:
            conn.execute(
                text("SELECT id FROM jobs WHERE id = :id FOR UPDATE NOWAIT"), {"id": job_id}
            )
        except OperationalError:  # lock_not_available
            return True
        finally:
            conn.rollback()
    return False


def _while_b_is_held(
    store: Store, outside: Engine, work: Callable[[SqlTransaction], object]
) -> bool:
    """Run ``work`` in a transaction while ``b`` is locked from outside; whether ``a``
    was locked by it while it waited for ``b``."""
    with outside.connect() as holder:
        holder.execute(text("SELECT id FROM jobs WHERE id = 'b' FOR UPDATE"))
        done = threading.Event()

        def run() -> None:
            with store.transaction() as tx:
                work(tx)  # type: ignore[arg-type]
            done.set()

        thread = threading.Thread(target=run)
        thread.start()
        time.sleep(0.5)  # it has reached b's lock and waits there
        assert not done.is_set()
        first_locked = _locked(outside, "a")
        holder.rollback()
    thread.join(10)
    assert done.is_set()
    return first_locked


def test_the_reaper_locks_expired_jobs_in_id_order(store: Store, outside: Engine) -> None:
    assert _while_b_is_held(store, outside, lambda tx: tx.dispatch.reap(1_000, 5))
    with store.transaction(read_only=True) as tx:
        assert {j.id: j.state for j in tx.jobs.get_many(["a", "b"])} == {
            "a": JobState.QUEUED,
            "b": JobState.QUEUED,
        }


def test_a_hand_back_out_of_tries_locks_in_id_order(store: Store, outside: Engine) -> None:
    def hand_back(tx: SqlTransaction) -> object:
        return tx.dispatch.release(WORKER, ["b", "a"], 1_000, error="no GPU", max_attempts=1)

    assert _while_b_is_held(store, outside, hand_back)
    with store.transaction(read_only=True) as tx:
        assert {j.state for j in tx.jobs.get_many(["a", "b"])} == {JobState.FAILED}


def test_a_heartbeat_locks_the_jobs_it_extends_in_id_order(store: Store, outside: Engine) -> None:
    extended: list[int] = []

    def heartbeat(tx: SqlTransaction) -> object:
        extended.append(tx.dispatch.extend(WORKER, ["b", "a"], 1_000))
        return None

    assert _while_b_is_held(store, outside, heartbeat)
    assert extended == [2]


def test_a_transaction_postgresql_breaks_off_is_database_busy(store: Store) -> None:
    """Two transactions that lock ``a`` and ``b`` in opposite orders: PostgreSQL breaks
    one off (40P01), which reaches its caller as a 503 that changed nothing."""
    both_hold = threading.Barrier(2, timeout=10)
    outcomes: dict[str, BaseException | None] = {}

    def lock(first: str, second: str) -> None:
        try:
            with store.transaction() as tx:
                conn = tx.conn  # type: ignore[attr-defined]
                statement = text("UPDATE jobs SET updated_ms = 1 WHERE id = :id")
                conn.execute(statement, {"id": first})
                both_hold.wait()
                conn.execute(statement, {"id": second})
            outcomes[first] = None
        except BaseException as exc:  # the outcome under test
            outcomes[first] = exc

    threads = [threading.Thread(target=lock, args=pair) for pair in (("a", "b"), ("b", "a"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    broken = [exc for exc in outcomes.values() if exc is not None]
    assert len(outcomes) == 2 and len(broken) == 1, outcomes
    (exc,) = broken
    assert isinstance(exc, DatabaseBusy) and exc.status == 503
    assert "deadlock" not in exc.message  # PostgreSQL's detail names processes and rows
    with store.transaction(read_only=True) as tx:  # one committed, the other changed nothing
        assert sorted(j.updated_ms for j in tx.jobs.get_many(["a", "b"])) == [1, 1]

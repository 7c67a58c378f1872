"""The jobs' change feed: numbered at commit, in commit order, so a reader never skips.

Run on SQLite, PostgreSQL and the in-memory store. The race it closes: a change's time is
taken before its transaction gets the write lock, so a change committed later can carry
an earlier time than one a reader has already seen; a time cursor then skips it for
ever. A ``change_seq`` cursor cannot.
"""

from __future__ import annotations

import random
import threading
import time

from tests.integration.store.rows import job

from swarmgen.core.jobs import JobState
from swarmgen.store import Store
from swarmgen.store.records import SYSTEM_USER, Completion, JobRecord

OFFERING = ["echo-image@fp32"]


def done(job_id: str) -> Completion:
    return Completion(job_id, ["blob"], "d" * 64, {"job_id": job_id}, {})


def feed(store: Store, after: int, state: JobState | None = None) -> list[JobRecord]:
    with store.transaction() as tx:
        return tx.jobs.of_user(SYSTEM_USER, 1000, state, changed_after=after)


def seq(store: Store, job_id: str) -> int:
    with store.transaction() as tx:
        number = tx.jobs.get(job_id).change_seq
    assert number is not None
    return number


def lease_and_complete(store: Store, worker: str, job_ids: list[str], now: int) -> None:
    with store.transaction() as tx:
        leased = tx.dispatch.lease(worker, OFFERING, 1 << 20, len(job_ids), now)
    assert sorted(j.id for j in leased) == sorted(job_ids)
    with store.transaction() as tx:
        assert len(tx.jobs.complete(worker, now, [done(i) for i in job_ids])) == len(job_ids)


def test_every_visible_change_gets_a_larger_number_and_a_heartbeat_none(store: Store) -> None:
    with store.transaction() as tx:
        tx.jobs.insert([job("a", created_ms=1, updated_ms=1), job("b", created_ms=2)])
    inserted = seq(store, "b")
    assert seq(store, "a") != inserted and seq(store, "a") > 0
    with store.transaction() as tx:
        tx.dispatch.lease("w", OFFERING, 1 << 20, 1, 10)  # leases "a", the older
    leased = seq(store, "a")
    assert leased > inserted
    with store.transaction() as tx:
        assert tx.dispatch.extend("w", ["a"], 11) == 1
    assert seq(store, "a") == leased  # a heartbeat changes nothing a requester sees
    with store.transaction() as tx:
        tx.jobs.complete("w", 12, [done("a")])
    completed = seq(store, "a")
    assert completed > leased
    with store.transaction() as tx:
        tx.jobs.set_payment(["a"], "pending")
    assert seq(store, "a") > completed
    with store.transaction() as tx:
        assert tx.jobs.cancel("b", 13) is not None
    assert [j.id for j in feed(store, 0)] == ["a", "b"]  # in the order of their last change
    assert [j.id for j in feed(store, seq(store, "a"))] == ["b"]
    assert feed(store, seq(store, "b")) == []


def test_a_change_committed_late_with_an_earlier_time_is_still_seen(store: Store) -> None:
    with store.transaction() as tx:
        tx.jobs.insert([job("early", created_ms=1), job("late", created_ms=0)])
    lease_and_complete(store, "w1", ["late"], now=200)  # committed first
    cursor = 0
    seen = feed(store, cursor, JobState.COMPLETED)
    assert [j.id for j in seen] == ["late"]
    cursor = max(j.change_seq or 0 for j in seen)
    since_ms = max(j.updated_ms for j in seen)
    lease_and_complete(store, "w2", ["early"], now=100)  # its time was taken before
    assert [j.id for j in feed(store, cursor, JobState.COMPLETED)] == ["early"]
    with store.transaction() as tx:  # the time cursor skips it: the race this closes
        timed = tx.jobs.of_user(SYSTEM_USER, 1000, JobState.COMPLETED, updated_since=since_ms)
    assert [j.id for j in timed] == ["late"]


def test_a_reader_sees_every_completion_of_concurrent_writers(store: Store) -> None:
    """Two writer threads, each with its own transactions (connections), complete jobs
    with times taken before their transactions and pauses inside them, so commit order
    and times disagree; a reader follows the feed meanwhile and must see every one."""
    per_writer, writers = 40, 2
    with store.transaction() as tx:
        tx.jobs.insert(
            [
                job(f"j{w}-{i}", offering=f"echo-image@w{w}")
                for w in range(writers)
                for i in range(per_writer)
            ]
        )
    finished = threading.Event()
    seen: set[str] = set()

    def write(w: int) -> None:
        rng = random.Random(w)
        offering = [f"echo-image@w{w}"]
        for _ in range(per_writer):
            now = int(time.time() * 1000)  # taken before the write lock, as services do
            time.sleep(rng.random() * 0.004)
            with store.transaction() as tx:
                (leased,) = tx.dispatch.lease(f"w{w}", offering, 1 << 20, 1, now)
                time.sleep(rng.random() * 0.004)
                tx.jobs.complete(f"w{w}", now, [done(leased.id)])
            assert leased.id.startswith(f"j{w}-")

    def read() -> None:
        cursor = 0
        while True:
            last = finished.is_set()
            for record in feed(store, cursor, JobState.COMPLETED):
                seen.add(record.id)
                cursor = max(cursor, record.change_seq or 0)
            if last:
                return
            time.sleep(0.001)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    reader = threading.Thread(target=read)
    reader.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    finished.set()
    reader.join(60)
    assert len(seen) == per_writer * writers


def test_completing_moves_held_credits_in_the_same_write(store: Store) -> None:
    with store.transaction() as tx:
        tx.jobs.insert([job("r", payment="reserved"), job("v", created_ms=1)])
        tx.dispatch.lease("w", OFFERING, 1 << 20, 2, 10)
    leased = seq(store, "r")
    with store.transaction() as tx:
        completed = tx.jobs.complete("w", 12, [done("r"), done("v")], ("reserved", "pending"))
    assert {j.id: j.payment for j in completed} == {"r": "pending", "v": None}
    with store.transaction() as tx:
        stored = {j.id: j for j in tx.jobs.get_many(["r", "v"])}
    assert {i: (j.state, j.payment) for i, j in stored.items()} == {
        "r": (JobState.COMPLETED, "pending"),
        "v": (JobState.COMPLETED, None),
    }
    assert stored["r"].outputs == ["blob"] and stored["r"].receipt == {"job_id": "r"}
    assert seq(store, "r") > leased
    with store.transaction() as tx:  # completed already: nothing moves again
        assert tx.jobs.complete("w", 13, [done("r")], ("pending", "paid")) == []
    assert seq(store, "r") == stored["r"].change_seq

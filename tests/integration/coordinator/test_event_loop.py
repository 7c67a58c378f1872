"""Nothing blocks the event loop: with the database's write lock held elsewhere for 3 s,
``/healthz`` still answers at once, and a pop that needs the database waits in a thread,
then leases its job when the lock is gone.

The coordinator is served by uvicorn on loopback; the lock is taken by another
connection (``BEGIN IMMEDIATE`` on SQLite, ``LOCK TABLE`` on PostgreSQL).
"""

from __future__ import annotations

import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy import text
from tests.integration.coordinator.conftest import Env
from tests.integration.coordinator.helpers import MODELS

from swarmgen.core.signing import KeyPair
from swarmgen.sdk.worker_client import WorkerClient
from swarmgen.store import make_engine

HELD_S = 3.0
ANSWER_S = 0.1


def hold_write_lock(url: str, held: threading.Event, seconds: float) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:  # BEGIN IMMEDIATE on SQLite: the write lock
            if conn.dialect.name == "postgresql":
                conn.execute(text("LOCK TABLE jobs, nonces, workers IN ACCESS EXCLUSIVE MODE"))
            held.set()
            time.sleep(seconds)
    finally:
        engine.dispose()


def test_healthz_answers_and_a_pop_waits_off_the_loop_while_the_db_is_locked(
    env: Env, served: str, database_url: str
) -> None:
    keys = KeyPair.generate()
    env.worker(keys).register("w1", MODELS, 1024 * 1024, 4)
    job = env.submit(env.image())
    probe = httpx.Client(base_url=served, timeout=10)
    assert probe.get("/healthz").status_code == 200  # connected before the clock starts
    held = threading.Event()
    locker = threading.Thread(target=hold_write_lock, args=(database_url, held, HELD_S))
    locker.start()
    assert held.wait(10)
    locked_at = time.monotonic()
    pool = ThreadPoolExecutor(2)
    worker = WorkerClient(served, keys)
    try:
        pop = pool.submit(worker.pop, 0)  # its nonce is a write: it must wait for the lock
        submit = pool.submit(
            httpx.post, f"{served}/api/v1/jobs", json=env.image(), headers=env.auth, timeout=30
        )
        time.sleep(0.3)  # both reach the database and wait there
        answers = []
        while time.monotonic() - locked_at < HELD_S - 0.5:
            started = time.perf_counter()
            assert probe.get("/healthz").status_code == 200
            answers.append(time.perf_counter() - started)
            time.sleep(0.05)
        waiting = not pop.done() and not submit.done()
        leased = pop.result(timeout=30)
        waited = time.monotonic() - locked_at
    finally:
        worker.close()
        probe.close()
    assert submit.result(timeout=30).status_code == 202
    locker.join(10)
    pool.shutdown()
    assert max(answers) < ANSWER_S, f"healthz took {max(answers) * 1000:.0f} ms"
    assert statistics.median(answers) < ANSWER_S / 2
    assert len(answers) >= 10  # /healthz kept answering ...
    assert waiting  # ... while the pop and a submit waited for the database
    assert waited >= HELD_S - 0.5
    assert job["id"] in {a["job_id"] for a in leased}


def test_a_requester_s_reads_answer_while_a_writer_holds_the_database(
    env: Env, served: str, database_url: str
) -> None:
    """Its job's status and its change feed only read: they wait for no writer (on SQLite
    a write transaction would queue for the lock; PostgreSQL's EXCLUSIVE lock lets reads
    through, as a busy writer's row locks do)."""
    job_id = env.submit(env.image())["id"]
    client = httpx.Client(base_url=served, headers=env.auth, timeout=10)
    assert client.get(f"/api/v1/jobs/{job_id}").status_code == 200  # connected first
    held = threading.Event()
    engine = make_engine(database_url)

    def hold() -> None:
        with engine.begin() as conn:  # BEGIN IMMEDIATE on SQLite: the write lock
            if conn.dialect.name == "postgresql":
                conn.execute(text("LOCK TABLE jobs, api_keys, users IN EXCLUSIVE MODE"))
            held.set()
            time.sleep(HELD_S)

    locker = threading.Thread(target=hold)
    locker.start()
    try:
        assert held.wait(10)
        took = []
        for path in (f"/api/v1/jobs/{job_id}", "/api/v1/jobs?changed_after=0"):
            started = time.monotonic()
            response = client.get(path)
            took.append(time.monotonic() - started)
            assert response.status_code == 200, response.text
    finally:
        locker.join(10)
        engine.dispose()
        client.close()
    assert max(took) < ANSWER_S * 2, took

"""Replicas on one PostgreSQL wake each other's long-polls through LISTEN/NOTIFY.

Without the relay a waiter on another replica finds new work only at its next re-check
(up to a second later). The tests record what each replica's relay delivered (the exact
proof) and the latency of five wake-ups, whose median must be under 0.3 s: a
once-a-second re-check alone gets there with probability about 1/5 (three of five under
0.3 s), and the relay in milliseconds on an idle machine.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.integration.coordinator.helpers import MODELS, run_echo

from swarmgen.coordinator.admin import create_key
from swarmgen.coordinator.app import create_app
from swarmgen.coordinator.notify import Notifier
from swarmgen.coordinator.replicas import RelayedNotifier, notifier_for
from swarmgen.coordinator.settings import CoordinatorSettings
from swarmgen.core.signing import KeyPair
from swarmgen.sdk.worker_client import WorkerClient
from swarmgen.store import make_engine, open_store
from swarmgen.store.wakeups import MAX_PAYLOAD, PgWakeups, packed

pytestmark = pytest.mark.postgres

FAST_S = 0.3


def delivered(app: FastAPI) -> list[str]:
    """Record every topic ``app``'s relay delivers from the other replicas."""
    notifier = app.state.services.notifier
    seen: list[str] = []
    deliver = notifier._deliver

    def record(topics: list[str]) -> None:
        seen.extend(topics)
        deliver(topics)

    notifier.channel._deliver = record
    return seen


def test_packed_payloads_fit_the_limit_and_keep_every_topic() -> None:
    topics = [f"{i:032x}" for i in range(2000)]
    payloads = packed("origin", topics)
    assert len(payloads) > 1
    assert all(len(p) <= MAX_PAYLOAD and p.startswith("origin ") for p in payloads)
    assert [t for p in payloads for t in p.split()[1:]] == topics
    assert packed("origin", []) == []


def test_a_topic_reaches_every_other_replica_and_not_its_sender(postgres_url: str) -> None:
    engine = make_engine(postgres_url)
    got: dict[str, list[str]] = {"a": [], "b": []}
    done = threading.Event()

    def deliver(name: str) -> object:
        def on(topics: list[str]) -> None:
            got[name].extend(topics)
            if len(got["b"]) >= 2001:
                done.set()

        return on

    a, b = PgWakeups(engine, deliver("a")), PgWakeups(engine, deliver("b"))  # type: ignore[arg-type]
    assert a.channel == b.channel and a.origin != b.origin
    for channel in (a, b):
        channel.start()
    try:
        assert a.wait_listening(10) and b.wait_listening(10)
        a.publish("q")
        for i in range(2000):  # more than one payload holds
            a.publish(f"{i:032x}")
        assert done.wait(10), got["b"][:3]
        assert got["b"][0] == "q" and set(got["b"][1:]) == {f"{i:032x}" for i in range(2000)}
        time.sleep(0.2)
        assert got["a"] == []  # its own messages are dropped
    finally:
        a.stop()
        b.stop()
        engine.dispose()


def test_sqlite_gets_a_plain_notifier(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'x.db'}")
    notifier = notifier_for(store)
    assert type(notifier) is Notifier
    store.dispose()


def serve(app: FastAPI, stack: ExitStack) -> str:
    """``app`` on a loopback port (its lifespan runs under a TestClient the caller holds)."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)

    def stop() -> None:
        server.should_exit = True
        thread.join(10)

    stack.callback(stop)
    return f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"


@pytest.fixture
def two_replicas(
    postgres_url: str, tmp_path: Path
) -> Iterator[tuple[list[str], str, ExitStack, list[list[str]]]]:
    settings = CoordinatorSettings(
        data=tmp_path,
        database_url=postgres_url,
        min_stake=0,
        trusted_workers=True,
        verify=False,
    )
    with ExitStack() as stack:
        apps = [create_app(settings), create_app(settings)]
        for app in apps:
            stack.enter_context(TestClient(app))
            notifier = app.state.services.notifier
            assert isinstance(notifier, RelayedNotifier)
            assert notifier.channel.wait_listening(10)
        store = apps[0].state.store
        key = create_key(store, apps[0].state.clock, "alice").key
        apps[0].state.credits.grant("alice", 10**9)
        seen = [delivered(app) for app in apps]
        yield [serve(app, stack) for app in apps], key, stack, seen


def test_a_pop_waiting_on_one_replica_wakes_for_a_job_queued_on_another(
    two_replicas: tuple[list[str], str, ExitStack, list[list[str]]],
) -> None:
    (first, second), key, stack, seen = two_replicas
    worker = WorkerClient(first, KeyPair.generate())
    stack.callback(worker.close)
    worker.register("w1", MODELS, 1024 * 1024, 1)
    body = {"kind": "image", "model": "echo-image@fp32", "prompt": "a red circle"}
    auth = {"Authorization": f"Bearer {key}"}
    latencies = []
    with ThreadPoolExecutor(1) as pool, httpx.Client(base_url=second, headers=auth) as http:
        for _ in range(5):
            waiting = pool.submit(worker.pop, 10.0, 1)
            time.sleep(0.3)  # the pop is parked on the first replica
            started = time.monotonic()
            assert http.post("/api/v1/jobs", json=body).status_code == 202
            (assignment,) = waiting.result(10)
            latencies.append(time.monotonic() - started)
            worker.submit([run_echo(worker, assignment)])
    # every submit on the second woke the first's waiters of its offering, one job each
    assert seen[0].count("q/echo-image@fp32") >= 5
    assert sorted(latencies)[2] < FAST_S, latencies


def test_a_status_waiting_on_one_replica_wakes_when_another_completes_the_job(
    two_replicas: tuple[list[str], str, ExitStack, list[list[str]]],
) -> None:
    (first, second), key, stack, seen = two_replicas
    worker = WorkerClient(first, KeyPair.generate())
    stack.callback(worker.close)
    worker.register("w1", MODELS, 1024 * 1024, 1)
    body = {"kind": "image", "model": "echo-image@fp32", "prompt": "a red circle"}
    auth = {"Authorization": f"Bearer {key}"}
    latencies = []
    with ThreadPoolExecutor(1) as pool, httpx.Client(base_url=second, headers=auth) as http:
        for _ in range(5):
            job_id = http.post("/api/v1/jobs", json=body).json()["id"]
            (assignment,) = worker.pop(5.0, 1)
            waiting = pool.submit(http.get, f"/api/v1/jobs/{job_id}", params={"wait": 10})
            time.sleep(0.3)  # the status is parked on the second replica
            worker.submit([run_echo(worker, assignment)])
            started = time.monotonic()  # committed: from here on the waiter only needs waking
            view = waiting.result(10).json()
            latencies.append(time.monotonic() - started)
            assert view["state"] == "completed"
            assert job_id in seen[1]  # the first replica told the second
    assert sorted(latencies)[2] < FAST_S, latencies

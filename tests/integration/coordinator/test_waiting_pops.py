"""Pops that wait: a queued job wakes one waiting worker that can take it, a seat its
drawn worker; a wake-up the woken pop cannot use goes on to another waiter; re-checks
only read."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from tests.integration.coordinator.conftest import Env
from tests.integration.coordinator.helpers import MODELS, run_echo

from swarmgen.coordinator.notify import Queued
from swarmgen.core.signing import KeyPair, sign_request
from swarmgen.sdk.client import SwarmgenAPIError
from swarmgen.sdk.worker_client import WorkerClient


@contextmanager
def pops_waiting(
    served: str, models: list[list[str]], batch: int, wait_s: float, waiting: Callable[[], int]
) -> Iterator[dict[int, list[dict[str, Any]]]]:
    """A worker registered for each of ``models``, each with a pop of ``wait_s`` in a
    thread of its own; the block runs once ``waiting()`` counts them all, and what each
    pop returned is in the yielded dict after it."""
    workers = [WorkerClient(served, KeyPair.generate()) for _ in models]
    for n, (worker, offerings) in enumerate(zip(workers, models, strict=True)):
        worker.register(f"w{n}", offerings, 4096, batch)
    got: dict[int, list[dict[str, Any]]] = {}
    pops = [
        threading.Thread(target=lambda n=n, w=w: got.__setitem__(n, w.pop(wait_s, batch)))
        for n, w in enumerate(workers)
    ]
    for pop in pops:
        pop.start()
    deadline = time.monotonic() + 10
    while waiting() < len(workers):
        assert time.monotonic() < deadline, "the pops never waited"
        time.sleep(0.01)
    try:
        yield got
    finally:
        for pop in pops:
            pop.join(30)
        for worker in workers:
            worker.close()


def test_workers_waiting_together_each_get_part_of_a_burst(env: Env, served: str) -> None:
    """A burst shorter than everyone's batches is spread over the waiting workers instead
    of going, a full batch at a time, to whichever asked first."""
    counted = env.http.app.state.services.notifier.queue
    with pops_waiting(served, [MODELS] * 4, 4, 20, lambda: counted.most([MODELS[0]])) as got:
        burst = {"jobs": [env.image(prompt=f"shape {n}") for n in range(8)]}
        accepted = env.http.post("/api/v1/jobs/batch", json=burst, headers=env.auth)
        assert accepted.status_code == 202, accepted.text
    # the first woken takes two (8 among 4), not its batch of four: all four get work
    assert all(got.get(n) for n in range(4)), got
    leased = [a["job_id"] for assignments in got.values() for a in assignments]
    assert len(leased) == len(set(leased)) <= 8


def test_a_job_wakes_one_waiting_worker_of_its_offering_only(
    env: Env, served: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three workers wait for images and three for text; one image job costs one lease
    attempt, by one image worker, and none by the others (a broadcast woke all six)."""
    service = env.http.app.state.services.workers
    attempts: list[str] = []
    lease = service._lease

    def counted(worker: Any, *args: Any, waiting: bool = False, **kwargs: Any) -> Any:
        if waiting:
            attempts.append(worker.capabilities["models"][0])
        return lease(worker, *args, waiting=waiting, **kwargs)

    monkeypatch.setattr(service, "_lease", counted)
    room = env.http.app.state.services.notifier.queue
    both = [[MODELS[n % 2]] for n in range(6)]
    with pops_waiting(
        served, both, 1, 3, lambda: len(room.waiters(MODELS[0])) + len(room.waiters(MODELS[1]))
    ) as got:
        env.submit(env.image())
    assert attempts == [MODELS[0]]
    assert sorted(n for n, assignments in got.items() if assignments) in ([0], [2], [4])


def test_a_seat_drawn_for_a_waiting_worker_wakes_it(env: Env, served: str) -> None:
    """A completion draws a validation seat for a worker whose pop waits: that pop is
    woken at once (unwoken it would wait for the re-check, past its own wait)."""
    claimant = env.worker()
    claimant.owner_key = env.new_key("ann")
    claimant.register("ann-w", MODELS, 1024 * 1024, 4)
    validator = WorkerClient(served, KeyPair.generate())
    env.new_key("bob")
    validator.owner_key = env.new_key("bob")
    validator.register("bob-w", MODELS, 1024 * 1024, 4)
    job_id = str(env.submit(env.image(width=64, height=64))["id"])
    (assignment,) = claimant.pop(0, 1)
    got: list[list[dict[str, Any]]] = []
    waiting = threading.Thread(target=lambda: got.append(validator.pop(8, 1)))
    waiting.start()
    room = env.http.app.state.services.notifier.queue
    deadline = time.monotonic() + 10
    while not room.waiters(MODELS[0]):
        assert time.monotonic() < deadline, "the pop never waited"
        time.sleep(0.01)
    started = time.monotonic()
    claimant.submit([run_echo(claimant, assignment)])  # the check draws bob's seat
    waiting.join(10)
    validator.close()
    assert got and got[0], "the drawn worker was not woken"
    assert time.monotonic() - started < 4.0
    assert env.reads.jobs.get(got[0][0]["job_id"]).validates == job_id


def test_a_waiting_pop_whose_lease_fails_passes_its_wake_up_on(
    env: Env, served: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The waiter a job woke fails to lease (the database refused it): its pop fails, and
    the job goes at once to another waiter, not after the re-check or that waiter's wait."""
    service = env.http.app.state.services.workers
    lease = service._lease
    failed: list[str] = []

    def failing_once(worker: Any, *args: Any, waiting: bool = False, **kwargs: Any) -> Any:
        if waiting and not failed:
            failed.append(worker.id)
            raise RuntimeError("database is locked")
        return lease(worker, *args, waiting=waiting, **kwargs)

    monkeypatch.setattr(service, "_lease", failing_once)
    room = env.http.app.state.services.notifier.queue
    workers = [WorkerClient(served, KeyPair.generate()) for _ in range(2)]
    for n, worker in enumerate(workers):
        worker.register(f"w{n}", MODELS, 4096, 1)
    got: dict[str, Any] = {}

    def pop(worker: WorkerClient) -> None:
        try:
            got[worker.keys.public_key] = worker.pop(8, 1)
        except SwarmgenAPIError as exc:
            got[worker.keys.public_key] = exc.status

    threads = [threading.Thread(target=pop, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    while len(room.waiters(MODELS[0])) < 2:
        assert time.monotonic() < deadline, "the pops never waited"
        time.sleep(0.01)
    started = time.monotonic()
    env.submit(env.image())
    for thread in threads:
        thread.join(15)
    for worker in workers:
        worker.close()
    (unlucky,) = failed
    assert got[unlucky] == 500
    (other,) = set(got) - {unlucky}
    assert len(got[other]) == 1, got
    assert time.monotonic() - started < 4.0


@pytest.mark.parametrize("settings_overrides", [{"pop_recheck_s": 0.2}])
def test_a_waiting_pop_s_re_checks_lease_only_when_something_is_queued_for_it(
    env: Env, served: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The room's re-checks of an idle queue only read: no waiter leases, nor for a job
    too large for it. A job queued with no wake-up (as a notification lost between
    replicas leaves it) is found by the next re-check, which wakes the waiter."""
    service = env.http.app.state.services.workers
    room = env.http.app.state.services.notifier.queue
    attempts: list[str] = []
    lease = service._lease

    def counted(worker: Any, *args: Any, waiting: bool = False, **kwargs: Any) -> Any:
        if waiting:
            attempts.append(worker.id)
        return lease(worker, *args, waiting=waiting, **kwargs)

    monkeypatch.setattr(service, "_lease", counted)
    fire = room.fire

    def lost(queued: Queued) -> None:  # every wake-up but the re-check's is lost
        if threading.current_thread().name == "task-pop-recheck":
            fire(queued)

    monkeypatch.setattr(room, "fire", lost)
    worker = WorkerClient(served, KeyPair.generate())
    worker.register("w", MODELS, 4096, 1)
    got: list[list[dict[str, Any]]] = []
    waiting = threading.Thread(target=lambda: got.append(worker.pop(8, 1)))
    waiting.start()
    deadline = time.monotonic() + 10
    while not room.waiters(MODELS[0]):
        assert time.monotonic() < deadline, "the pop never waited"
        time.sleep(0.01)
    time.sleep(1.0)  # about five re-checks of an empty queue
    assert attempts == []
    env.submit(env.image(width=128, height=128))  # more pixels than the worker holds
    time.sleep(1.0)
    assert attempts == []
    job_id = env.submit(env.image())["id"]
    waiting.join(10)
    worker.close()
    assert got and [a["job_id"] for a in got[0]] == [job_id]
    assert len(attempts) == 1


def test_a_wake_up_spent_on_another_offering_s_job_goes_on_to_a_waiter_that_fits(
    env: Env, served: str
) -> None:
    """One batch queues a large image and a text job. Of the two waiters, the first
    serves both offerings but not that size, the second only large images. The image's
    wake-up goes to the first (it waited longest), the text job finds no one else
    awake; the first leases the text job, and the image's wake-up it did not use wakes
    the second at once (dropped, the image waited for the second's re-check or the end
    of its wait)."""
    room = env.http.app.state.services.notifier.queue
    small = WorkerClient(served, KeyPair.generate())
    small.register("small", MODELS, 64 * 64, 1)
    large = WorkerClient(served, KeyPair.generate())
    large.register("large", [MODELS[0]], 128 * 128, 1)
    got: dict[str, list[dict[str, Any]]] = {}
    pops = []
    for name, worker in (("small", small), ("large", large)):
        pops.append(
            threading.Thread(target=lambda n=name, w=worker: got.__setitem__(n, w.pop(8, 1)))
        )
        pops[-1].start()
        deadline = time.monotonic() + 10
        while len(room.waiters(MODELS[0])) < len(pops):  # in this order: small first
            assert time.monotonic() < deadline, "the pops never waited"
            time.sleep(0.01)
    started = time.monotonic()
    jobs = [env.image(width=128, height=128), env.text()]
    accepted = env.http.post("/api/v1/jobs/batch", json={"jobs": jobs}, headers=env.auth)
    assert accepted.status_code == 202, accepted.text
    image_id, text_id = (job["id"] for job in accepted.json()["jobs"])
    for pop in pops:
        pop.join(15)
    small.close()
    large.close()
    assert [a["job_id"] for a in got["small"]] == [text_id]
    assert [a["job_id"] for a in got["large"]] == [image_id]
    assert time.monotonic() - started < 4.0


def _pop_on_a_socket(url: str, keys: KeyPair, wait_s: float) -> socket.socket:
    """A signed pop of ``wait_s`` sent on a connection of its own, not read."""
    host, port = url.removeprefix("http://").split(":")
    path, body = "/api/v1/workers/pop", json.dumps({"wait_s": wait_s, "max_jobs": 1}).encode()
    headers = sign_request(keys, "POST", path, body, int(time.time()))
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", "Content-Type: application/json"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines.append(f"Content-Length: {len(body)}")
    conn = socket.create_connection((host, int(port)))
    conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
    return conn


def test_a_pop_whose_worker_hangs_up_leaves_at_once_and_leases_nothing(
    env: Env, served: str
) -> None:
    """A worker that closes its connection mid-pop (it stopped, or died) no longer waits:
    the job queued next goes to a worker still there, not to the gone pop's lease."""
    room = env.http.app.state.services.notifier.queue
    keys = KeyPair.generate()
    gone = WorkerClient(served, keys)
    gone.register("gone", MODELS, 4096, 1)
    with contextlib.closing(_pop_on_a_socket(served, keys, 30)):
        deadline = time.monotonic() + 10
        while room.most([MODELS[0]]) < 1:
            assert time.monotonic() < deadline, "the pop never waited"
            time.sleep(0.01)
    hung_up = time.monotonic()
    while room.most([MODELS[0]]) > 0:
        assert time.monotonic() - hung_up < 2, "the pop still waits after its worker left"
        time.sleep(0.01)
    with pops_waiting(served, [MODELS], 1, 10, lambda: room.most([MODELS[0]])) as got:
        queued = env.http.post("/api/v1/jobs", json=env.image(), headers=env.auth)
        assert queued.status_code == 202, queued.text
    assert [a["job_id"] for a in got[0]] == [queued.json()["id"]]
    gone.close()

"""Requesters' status long-polls: a wait reads its job again only when something may
have changed, the process's re-check finds what no wake-up named, and a client that
hangs up stops the wait."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from typing import Any

import httpx
import pytest
from tests.integration.coordinator.conftest import Env
from tests.integration.coordinator.helpers import MODELS, run_echo

from swarmgen.core.signing import KeyPair
from swarmgen.sdk.worker_client import WorkerClient


def _status_in_a_thread(
    served: str, env: Env, job_id: str, wait_s: float
) -> tuple[threading.Thread, dict[str, Any]]:
    """``GET /api/v1/jobs/{job_id}?wait=wait_s`` in a thread; its answer, and how long
    it took, land in the returned dict."""
    got: dict[str, Any] = {}

    def ask() -> None:
        started = time.monotonic()
        answer = httpx.get(
            f"{served}/api/v1/jobs/{job_id}",
            params={"wait": wait_s},
            headers=env.auth,
            timeout=wait_s + 10,
        )
        got.update(status=answer.status_code, view=answer.json(), s=time.monotonic() - started)

    thread = threading.Thread(target=ask)
    thread.start()
    return thread, got


def _until(condition: Any, what: str, within_s: float = 10.0) -> None:
    deadline = time.monotonic() + within_s
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def _a_job_waited_for(
    served: str, env: Env, wait_s: float
) -> tuple[str, threading.Thread, dict[str, Any]]:
    """A job submitted, and a status long-poll of ``wait_s`` waiting for it in a thread
    (:func:`_status_in_a_thread`): the job's id, the thread and its answer's dict."""
    notifier = env.http.app.state.services.notifier
    job_id = env.submit(env.image())["id"]
    thread, got = _status_in_a_thread(served, env, job_id, wait_s)
    _until(lambda: notifier.waited() == [job_id], "the status never waited")
    return job_id, thread, got


def _a_worker_takes_it(served: str, *, finish: bool) -> dict[str, Any]:
    """A new worker leases the one queued job and, with ``finish``, completes it; its
    assignment."""
    worker = WorkerClient(served, KeyPair.generate())
    worker.register("w", MODELS, 4096, 1)
    (leased,) = worker.pop(0, 1)
    if finish:
        worker.submit([run_echo(worker, leased)])
    worker.close()
    return leased


@pytest.mark.parametrize("settings_overrides", [{"result_recheck_s": 0.1}])
def test_a_waiting_status_reads_its_job_again_only_when_woken(
    env: Env, served: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While nothing happens to its job a status long-poll reads nothing of its own,
    however often the re-check looks (every 0.1 s here); a change of the job (its lease,
    then its completion) wakes it, and the completion ends it."""
    services = env.http.app.state.services
    reads: list[str] = []
    read = services.jobs._job

    def counted(job_id: str) -> Any:
        reads.append(job_id)
        return read(job_id)

    monkeypatch.setattr(services.jobs, "_job", counted)
    job_id, thread, got = _a_job_waited_for(served, env, 20)
    time.sleep(1.0)  # about ten re-checks of a queued job
    assert reads == [job_id]  # its first read, of a job it owns: nothing since
    _a_worker_takes_it(served, finish=True)
    thread.join(10)
    assert got["status"] == 200 and got["view"]["state"] == "completed", got
    assert got["s"] < 10
    assert 2 <= len(reads) <= 3, reads  # woken by the lease, then by the completion


@pytest.mark.parametrize("settings_overrides", [{"result_recheck_s": 0.2}])
def test_a_job_finished_with_no_wake_up_is_found_by_the_re_check(
    env: Env, served: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every wake-up of the job is lost (as when another process, on SQLite, finishes
    it): the waiting status still answers ``completed`` at the next re-check, long
    before its wait ends."""
    services = env.http.app.state.services
    monkeypatch.setattr(services.notifier, "job_changed", lambda job_id: None)
    _, thread, got = _a_job_waited_for(served, env, 20)
    _a_worker_takes_it(served, finish=True)
    finished = time.monotonic()
    thread.join(20)
    assert got["view"]["state"] == "completed", got
    assert time.monotonic() - finished < 5, "the status waited for its wait to end"


def test_a_wait_that_runs_out_answers_with_the_job_as_it_is_then(
    env: Env, served: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A change no wake-up named (a lease made by another process on SQLite) and that
    does not end the job wakes nobody; the wait still answers, when its time is up,
    with the job as it is then (``leased``), not as it first read it."""
    services = env.http.app.state.services
    monkeypatch.setattr(services.notifier, "job_changed", lambda job_id: None)
    job_id, thread, got = _a_job_waited_for(served, env, 2)
    leased = _a_worker_takes_it(served, finish=False)
    thread.join(10)
    assert leased["job_id"] == job_id
    assert got["view"]["state"] == "leased", got


def _hang_up_while_waiting(served: str, env: Env, request: bytes) -> None:
    """Send ``request`` on a connection of its own, close it once a long-poll waits for
    a job, and see the wait gone within 2 s."""
    notifier = env.http.app.state.services.notifier
    host, port = served.removeprefix("http://").split(":")
    with contextlib.closing(socket.create_connection((host, int(port)))) as conn:
        conn.sendall(request)
        _until(lambda: len(notifier.waited()) == 1, "the request never waited")
    _until(lambda: notifier.waited() == [], "the wait goes on after its client left", 2)


def test_a_status_whose_client_hangs_up_stops_waiting(env: Env, served: str) -> None:
    """A requester that closes its connection mid long-poll leaves no wait behind: a
    client hanging up and asking again cannot pile waits up for a minute each."""
    job_id = env.submit(env.image())["id"]
    lines = [
        f"GET /api/v1/jobs/{job_id}?wait=30 HTTP/1.1",
        "Host: swarmgen",
        f"Authorization: Bearer {env.key}",
    ]
    _hang_up_while_waiting(served, env, ("\r\n".join(lines) + "\r\n\r\n").encode())


def test_an_openai_request_whose_client_hangs_up_stops_waiting(env: Env, served: str) -> None:
    """The OpenAI-compatible face waits for its job inside the request: a client that
    hangs up ends that wait too (its job stays queued, paid for, as any submitted job)."""
    body = json.dumps({"model": MODELS[1], "prompt": "hello", "max_tokens": 4}).encode()
    lines = [
        "POST /v1/completions HTTP/1.1",
        "Host: swarmgen",
        f"Authorization: Bearer {env.key}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
    ]
    _hang_up_while_waiting(served, env, ("\r\n".join(lines) + "\r\n\r\n").encode() + body)

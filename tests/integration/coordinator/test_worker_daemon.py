"""The worker loop against a real coordinator app: serve, hand back on stop, report errors."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest
from tests.integration.coordinator.conftest import Env
from tests.integration.coordinator.helpers import IMAGE, TEXT

from swarmgen.backends.echo import EchoBackend
from swarmgen.core.jobs import Job
from swarmgen.core.offerings import Kind
from swarmgen.core.outputs import Output
from swarmgen.core.stake import MIN_STAKE
from swarmgen.worker.daemon import Worker


class Broken(EchoBackend):
    def run(self, jobs: Sequence[Job]) -> list[Output]:
        raise RuntimeError("out of memory")


def start(
    env: Env, pop_wait_s: float = 0.2, **backends: EchoBackend
) -> tuple[Worker, threading.Thread]:
    worker = Worker(
        client=env.worker(),
        backends={b.offering: b for b in backends.values()},
        name="daemon",
        max_pixels=1024 * 1024,
        max_batch=4,
        pop_wait_s=pop_wait_s,
        heartbeat_s=0.5,
    )
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    return worker, thread


def pops_open() -> bool:
    """Whether a pop a stopped daemon gave up is still waiting for its answer (the test
    client cannot hang up, and its shutdown waits for requests under way)."""
    return any(t.name == "pop" and t.is_alive() for t in threading.enumerate())


def stop(worker: Worker, thread: threading.Thread) -> None:
    worker.stop.set()  # what SIGTERM does
    thread.join(10)
    assert not thread.is_alive()
    wait_for(lambda: not pops_open())


def state(env: Env, job_id: str) -> str:
    return env.reads.jobs.get(job_id).state.value


def wait_for(predicate, timeout: float = 20) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_daemon_serves_mixed_jobs_then_stops(env: Env) -> None:
    ids = [env.submit(env.image())["id"] for _ in range(5)]
    ids += [env.submit(env.text())["id"] for _ in range(5)]
    worker, thread = start(
        env, image=EchoBackend(IMAGE, Kind.IMAGE), text=EchoBackend(TEXT, Kind.TEXT)
    )
    wait_for(lambda: all(state(env, i) == "completed" for i in ids))
    stop(worker, thread)
    assert worker.completed == 10


def test_stop_hands_held_jobs_back(env: Env) -> None:
    job = env.submit(env.image())["id"]
    slow = EchoBackend(IMAGE, Kind.IMAGE, delay_s=30)
    worker, thread = start(env, image=slow)
    wait_for(lambda: state(env, job) == "leased")
    stop(worker, thread)
    assert state(env, job) == "queued"


def test_a_stop_gives_up_a_long_pop_and_hands_back_what_it_brings(env: Env) -> None:
    """An idle daemon long-polls 30 s; a stop does not wait for the poll to end. The
    pop given up stays open until a job comes: it leases it, and hands it back."""
    worker, thread = start(env, pop_wait_s=30, image=EchoBackend(IMAGE, Kind.IMAGE))
    room = env.http.app.state.services.notifier.queue
    wait_for(lambda: room.most([str(IMAGE)]) == 1)
    stopped = time.monotonic()
    worker.stop.set()
    thread.join(10)
    assert not thread.is_alive()
    assert time.monotonic() - stopped < 2
    assert room.most([str(IMAGE)]) == 1  # still open (a process would exit and close it)
    job = env.submit(env.image())["id"]
    wait_for(lambda: not pops_open())
    assert state(env, job) == "queued"
    assert env.reads.jobs.get(job).attempts == 1  # it was leased, then handed back


def test_backend_errors_count_tries_until_the_job_fails(env: Env) -> None:
    job = env.submit(env.image())["id"]
    worker, thread = start(env, image=Broken(IMAGE, Kind.IMAGE))
    wait_for(lambda: state(env, job) == "failed")  # max_attempts = 2 in the fixture
    stop(worker, thread)
    assert "out of memory" in (env.reads.jobs.get(job).error or "")


@pytest.mark.parametrize("settings_overrides", [{"min_stake": MIN_STAKE}])
def test_a_daemon_with_stake_tops_it_up_at_start_and_serves(env: Env) -> None:
    """Under the shipped minimum an unstaked worker is refused; ``stake`` makes the
    daemon lock what is missing from its owner's balance after registering."""
    env.new_key("olga")
    env.http.app.state.credits.grant("olga", 2 * MIN_STAKE)
    client = env.worker()
    client.owner_key = env.new_key("olga")
    job = env.submit(env.image())["id"]
    worker = Worker(
        client=client,
        backends={IMAGE: EchoBackend(IMAGE, Kind.IMAGE)},
        name="staked",
        max_pixels=1024 * 1024,
        max_batch=4,
        pop_wait_s=0.2,
        heartbeat_s=0.5,
        stake=MIN_STAKE,
    )
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    wait_for(lambda: state(env, job) == "completed")
    stop(worker, thread)
    assert client.stake()["locked"] == MIN_STAKE
    worker.register()  # a restart locks nothing more: the stake is there
    assert client.stake()["locked"] == MIN_STAKE


def test_an_idle_daemon_sends_no_heartbeats_and_a_busy_one_does(env: Env) -> None:
    """Heartbeats extend leases; a daemon holding no job sends none (its pops mark it
    seen), one running a job keeps its lease."""
    sent: list[list[str]] = []
    slow = EchoBackend(IMAGE, Kind.IMAGE, delay_s=30)
    worker, thread = start(env, image=slow)
    beat = worker.client.heartbeat

    def counted(held: list[str]) -> object:
        sent.append(held)
        return beat(held)

    worker.client.heartbeat = counted  # type: ignore[method-assign]
    time.sleep(1.6)  # three heartbeat periods, idle
    assert sent == []
    job = env.submit(env.image())["id"]
    wait_for(lambda: sent and sent[-1] == [job])
    stop(worker, thread)

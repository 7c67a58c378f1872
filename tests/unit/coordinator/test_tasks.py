"""The task runner: passes in threads, timeouts that skip, failures logged by name, leaders."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

import pytest

from swarmgen.coordinator.tasks import PeriodicTask, TaskRunner


class Follower:
    """Leadership that is never won."""

    is_leader = False

    def refresh(self) -> bool:
        return False

    def release(self) -> None:
        return None


async def until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition never held"
        await asyncio.sleep(0.005)


def test_passes_run_in_their_own_thread_at_each_interval() -> None:
    threads: list[str] = []

    async def main() -> None:
        runner = TaskRunner(
            [
                PeriodicTask(
                    "tick", 0.01, 1.0, lambda: threads.append(threading.current_thread().name)
                )
            ]
        )
        await runner.start()
        await until(lambda: runner.passes["tick"] >= 3)
        await runner.stop()

    asyncio.run(main())
    assert threading.main_thread().name not in threads
    assert set(threads) == {"task-tick"}


def test_a_failing_pass_is_logged_by_name_and_retried(caplog: pytest.LogCaptureFixture) -> None:
    calls = 0

    def fail() -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("boom")

    async def main() -> None:
        runner = TaskRunner([PeriodicTask("flaky", 0.01, 1.0, fail)])
        await runner.start()
        await until(lambda: calls >= 2)
        await runner.stop()

    with caplog.at_level(logging.ERROR, logger="swarmgen.coordinator.tasks"):
        asyncio.run(main())
    assert "task flaky failed" in caplog.text
    assert "boom" in caplog.text


def test_a_hung_pass_is_reported_skipped_and_never_overlapped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    release = threading.Event()
    running = 0
    most = 0
    served = 0

    def hang() -> None:
        nonlocal running, most
        running += 1
        most = max(most, running)
        release.wait(10)
        running -= 1

    async def main() -> None:
        nonlocal served
        runner = TaskRunner([PeriodicTask("stuck", 0.01, 0.1, hang)], stop_grace_s=1.0)
        await runner.start()
        await until(lambda: "ran past its 0.1 s timeout" in caplog.text)
        await until(lambda: "previous pass is still running" in caplog.text)
        for _ in range(10):  # the event loop keeps serving while the pass hangs
            await asyncio.sleep(0.001)
            served += 1
        release.set()
        await until(lambda: runner.passes["stuck"] >= 2)  # retried once the hung one ended
        await runner.stop()

    with caplog.at_level(logging.WARNING, logger="swarmgen.coordinator.tasks"):
        asyncio.run(main())
    assert served == 10
    assert most == 1


def test_leader_only_tasks_wait_for_leadership() -> None:
    ran: list[str] = []

    async def main() -> TaskRunner:
        tasks = [
            PeriodicTask("everywhere", 0.01, 1.0, lambda: ran.append("everywhere")),
            PeriodicTask("once", 0.01, 1.0, lambda: ran.append("once"), leader_only=True),
        ]
        runner = TaskRunner(tasks, Follower(), leader_check_s=0.01)
        await runner.start()
        await until(lambda: runner.passes["everywhere"] >= 3)
        await runner.stop()
        return runner

    runner = asyncio.run(main())
    assert "once" not in ran and not runner.is_leader


def test_a_lone_process_leads_and_runs_leader_only_tasks() -> None:
    ran: list[str] = []

    async def main() -> TaskRunner:
        runner = TaskRunner([PeriodicTask("once", 0.01, 1.0, lambda: ran.append("once"), True)])
        await runner.start()
        await until(lambda: bool(ran))
        await runner.stop()
        return runner

    assert asyncio.run(main()).is_leader

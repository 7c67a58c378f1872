"""Periodic work as named tasks, run off the event loop, some by the leader only.

A :class:`PeriodicTask` says what runs (a blocking callable: ledger transactions, SQL),
how often, how long a pass may take, and whether it must run once per deployment. The
:class:`TaskRunner` gives each pass a thread of its own, so a slow or hung pass never
stalls the requests the event loop serves. A pass that outlives its timeout is logged and
left to finish on its own; its task skips the following intervals until it has, so two
passes of one task never overlap. Failures are logged under the task's name and retried
at the next interval.

Leader-only tasks run in the one process that holds the deployment's leadership
(:mod:`swarmgen.store.leader`); the runner checks or seeks it every ``leader_check_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from swarmgen.store.leader import Leadership

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeriodicTask:
    """One named piece of periodic work."""

    name: str
    interval_s: float
    """Pause between the end of one pass and the start of the next."""
    timeout_s: float
    """Longest a pass may take before it is reported and its task skips ahead."""
    run: Callable[[], object]
    """The pass: blocking, called in a thread of its own."""
    leader_only: bool = False
    """Run in one process per deployment (the leader), not in every server process."""


class SoleLeader:
    """The leadership of a lone process: it always leads (an in-memory store, tests)."""

    is_leader = True

    def refresh(self) -> bool:
        return True

    def release(self) -> None:
        return None


def _in_thread(name: str, work: Callable[[], object]) -> asyncio.Future[object]:
    """Run ``work`` in a daemon thread: a hung pass cannot hold the process at exit."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[object] = loop.create_future()

    def settle(result: object, error: BaseException | None) -> None:
        if future.done():
            return
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)

    def body() -> None:
        result: object = None
        error: BaseException | None = None
        try:
            result = work()
        except BaseException as exc:  # handed to the loop, which logs it by task name
            error = exc
        with contextlib.suppress(RuntimeError):  # the loop closed while this pass ran
            loop.call_soon_threadsafe(settle, result, error)

    threading.Thread(target=body, name=f"task-{name}", daemon=True).start()
    return future


class TaskRunner:
    """Runs periodic tasks for as long as the app serves (see :meth:`start`, :meth:`stop`)."""

    def __init__(
        self,
        tasks: Sequence[PeriodicTask],
        leadership: Leadership | None = None,
        leader_check_s: float = 1.0,
        stop_grace_s: float = 5.0,
    ) -> None:
        self.tasks = list(tasks)
        self.leadership: Leadership = leadership or SoleLeader()
        self.leader_check_s = leader_check_s
        self.stop_grace_s = stop_grace_s
        self.passes: dict[str, int] = {task.name: 0 for task in self.tasks}
        """Passes that finished, failed or not, per task (what tests and probes read)."""
        self._loops: list[asyncio.Task[None]] = []
        self._in_flight: dict[str, asyncio.Future[object]] = {}

    @property
    def is_leader(self) -> bool:
        return self.leadership.is_leader

    async def start(self) -> None:
        """Seek leadership once, so leader-only tasks run from their first interval; then loop."""
        election = PeriodicTask(
            "leadership", self.leader_check_s, self.leader_check_s * 5, self.leadership.refresh
        )
        await self._pass(election)
        self._loops = [
            asyncio.create_task(self._loop(task), name=f"periodic-{task.name}")
            for task in [election, *self.tasks]
        ]

    async def stop(self) -> None:
        """Stop the loops, give running passes a moment, then hand leadership back."""
        for loop in self._loops:
            loop.cancel()
        for loop in self._loops:
            with contextlib.suppress(asyncio.CancelledError):
                await loop
        self._loops = []
        running = [f for f in self._in_flight.values() if not f.done()]
        if running:
            await asyncio.wait(running, timeout=self.stop_grace_s)
        await asyncio.to_thread(self.leadership.release)

    async def _loop(self, task: PeriodicTask) -> None:
        while True:
            await asyncio.sleep(task.interval_s)
            if task.leader_only and not self.leadership.is_leader:
                continue
            await self._pass(task)

    async def _pass(self, task: PeriodicTask) -> None:
        previous = self._in_flight.get(task.name)
        if previous is not None and not previous.done():
            log.warning("task %s: its previous pass is still running; skipped", task.name)
            return
        future = _in_thread(task.name, task.run)
        future.add_done_callback(lambda done: self._finished(task.name, done))
        self._in_flight[task.name] = future
        done, _ = await asyncio.wait({future}, timeout=task.timeout_s)
        if not done:
            log.error(
                "task %s ran past its %.1f s timeout; skipped until it ends, then retried",
                task.name,
                task.timeout_s,
            )

    def _finished(self, name: str, future: asyncio.Future[object]) -> None:
        self.passes[name] = self.passes.get(name, 0) + 1
        if future.cancelled():
            return
        error = future.exception()
        if error is not None:
            log.error("task %s failed", name, exc_info=error)

"""In-process wake-ups for long polls: workers waiting for jobs, requesters for results.

A waiter also re-checks the store at least once a second, so jobs queued by another
coordinator replica (or by the lease reaper) are never missed for long.
:class:`WaitingPops` counts the workers waiting, per offering, so that they share a
short queue (:func:`~swarmgen.core.scheduling.fair_share`).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import Counter
from collections.abc import Collection, Iterator


class Signal:
    """A broadcast: every ``wait`` pending when ``fire`` is called returns.

    ``fire`` may come from any thread (sync endpoints and periodic tasks run in threads);
    the waiters' event is set on their own loop, so they wake at once.
    """

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def fire(self) -> None:
        event, self._event = self._event, asyncio.Event()
        loop = self._loop
        if loop is None or _running_loop() is loop:
            event.set()
        else:
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits
                loop.call_soon_threadsafe(event.set)

    async def wait(self, timeout: float) -> None:
        self._loop = asyncio.get_running_loop()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class WaitingPops:
    """How many workers' pops wait for work in this process, per offering they serve.

    Read from the threads that lease, so guarded by a lock. With replicas each process
    counts its own pops: a worker waiting at another replica is not counted here.
    """

    def __init__(self) -> None:
        self._count: Counter[str] = Counter()
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def waiting(self, offerings: Collection[str]) -> Iterator[None]:
        """Count one pop waiting for any of ``offerings`` while the block runs."""
        with self._lock:
            self._count.update(offerings)
        try:
            yield
        finally:
            with self._lock:
                self._count.subtract(offerings)
                for offering in offerings:
                    if self._count[offering] <= 0:
                        del self._count[offering]

    def most(self, offerings: Collection[str]) -> int:
        """The most pops waiting for any one of ``offerings``."""
        with self._lock:
            return max((self._count[o] for o in offerings if o in self._count), default=0)


class Notifier:
    """Signals for "the queue changed" and "job X changed", and the pops waiting."""

    def __init__(self) -> None:
        self.queue = Signal()
        self.pops = WaitingPops()
        self._jobs: dict[str, Signal] = {}
        self._waiters: dict[str, int] = {}

    def job_changed(self, job_id: str) -> None:
        signal = self._jobs.get(job_id)
        if signal is not None:
            signal.fire()

    async def wait_job(self, job_id: str, timeout: float) -> None:
        signal = self._jobs.setdefault(job_id, Signal())
        self._waiters[job_id] = self._waiters.get(job_id, 0) + 1
        try:
            await signal.wait(timeout)
        finally:
            self._waiters[job_id] -= 1
            if not self._waiters[job_id]:
                del self._waiters[job_id]
                del self._jobs[job_id]

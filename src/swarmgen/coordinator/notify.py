"""In-process wake-ups for long polls: workers waiting for jobs, requesters for results.

A waiter also re-checks the store at least once a second, so jobs queued by another
coordinator replica (or by the lease reaper) are never missed for long.
"""

from __future__ import annotations

import asyncio
import contextlib


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


class Notifier:
    """Signals for "the queue changed" and "job X changed"."""

    def __init__(self) -> None:
        self.queue = Signal()
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

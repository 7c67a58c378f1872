"""Wake-ups fired from threads (sync endpoints, periodic tasks) reach waiters at once."""

from __future__ import annotations

import asyncio
import threading
import time

from swarmgen.coordinator.notify import Notifier


def test_a_fire_from_another_thread_wakes_a_waiter_at_once() -> None:
    async def main() -> float:
        notifier = Notifier()
        loop = asyncio.get_running_loop()
        waiting = asyncio.create_task(notifier.queue.wait(5.0))
        await asyncio.sleep(0.01)  # the waiter is parked on its event
        started = loop.time()

        def later() -> None:
            time.sleep(0.1)  # the loop is asleep in its selector by now
            notifier.queue.fire()

        threading.Thread(target=later).start()
        await waiting
        return loop.time() - started

    assert asyncio.run(main()) < 1.0


def test_a_job_wait_is_woken_by_its_change_on_the_loop() -> None:
    async def main() -> float:
        notifier = Notifier()
        loop = asyncio.get_running_loop()
        waiting = asyncio.create_task(notifier.wait_job("j", 5.0))
        await asyncio.sleep(0.01)
        started = loop.time()
        notifier.job_changed("j")
        await waiting
        return loop.time() - started

    assert asyncio.run(main()) < 1.0

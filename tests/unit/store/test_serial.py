"""The SQLite writer lock: first come first served, re-entrant in its thread."""

from __future__ import annotations

import threading
import time

import pytest

from swarmgen.store.serial import WriterLock


def queued(lock: WriterLock, count: int) -> None:
    """Until ``count`` threads wait for ``lock``."""
    deadline = time.monotonic() + 5
    while len(lock._queue) < count:
        assert time.monotonic() < deadline
        time.sleep(0.001)


def test_threads_get_the_lock_in_the_order_they_asked() -> None:
    lock = WriterLock()
    order: list[int] = []
    lock.acquire()
    threads = []
    for n in range(5):

        def take(n: int = n) -> None:
            with lock:
                order.append(n)

        threads.append(threading.Thread(target=take))
        threads[-1].start()
        queued(lock, n + 1)
    lock.release()
    for thread in threads:
        thread.join(5)
    assert order == [0, 1, 2, 3, 4]


def test_a_thread_that_holds_it_passes_through() -> None:
    lock = WriterLock()
    with lock, lock:
        pass
    with lock:  # free again
        pass


def test_a_newcomer_does_not_take_it_while_it_is_handed_over() -> None:
    lock = WriterLock()
    got: list[str] = []
    lock.acquire()

    def take() -> None:
        with lock:
            got.append("queued")

    waiting = threading.Thread(target=take)
    waiting.start()
    queued(lock, 1)
    lock.release()
    lock.acquire()  # after the waiter, whom the release handed the lock to
    got.append("newcomer")
    lock.release()
    waiting.join(5)
    assert got == ["queued", "newcomer"]


def test_only_its_holder_releases_it() -> None:
    lock = WriterLock()
    with pytest.raises(RuntimeError):
        lock.release()

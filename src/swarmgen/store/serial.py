"""One SQLite writer at a time per process, first come first served.

SQLite lets one connection write at a time, and every transaction here begins with
``BEGIN IMMEDIATE`` (:mod:`swarmgen.store.engine`), so transactions of one process run
one after another whatever the threads do. Left to SQLite, a thread that finds the
database locked sleeps in its busy handler (1, 2, 5, … then 100 ms at a time) and
retries, while the lock may have been free for most of that sleep and other threads
take it meanwhile: under load a transaction of a millisecond waited seconds to begin
(decision 0026). :class:`WriterLock` queues the threads of one process instead, in
arrival order, and hands the lock straight to the next. The busy handler still rules
between processes (``--processes N``).
"""

from __future__ import annotations

import threading
from collections import deque


class WriterLock:
    """A first-in first-out lock, re-entrant within its holding thread.

    A thread that already holds it passes through (a transaction opened inside another
    then meets SQLite's own lock, as it would without this one).
    """

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._queue: deque[threading.Lock] = deque()
        self._owner: int | None = None
        self._depth = 0

    def acquire(self) -> None:
        me = threading.get_ident()
        with self._mutex:
            if self._owner == me:
                self._depth += 1
                return
            if self._owner is None:
                self._owner, self._depth = me, 1
                return
            gate = threading.Lock()
            gate.acquire()
            self._queue.append(gate)
        gate.acquire()  # the holder hands over (reserved for us meanwhile)
        with self._mutex:
            self._owner, self._depth = me, 1

    def release(self) -> None:
        with self._mutex:
            if self._owner != threading.get_ident():
                raise RuntimeError("released by a thread that does not hold it")
            self._depth -= 1
            if self._depth:
                return
            if self._queue:
                self._owner = -1  # handed over: nobody else takes it in between
                self._queue.popleft().release()
            else:
                self._owner = None

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
